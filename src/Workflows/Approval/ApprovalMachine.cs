using System.Globalization;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Workflows.Approval;

/// <summary>
/// The approval workflow as a pure state machine: no I/O, no clock, no randomness. The runtime persists
/// the returned state, events and tasks in one transaction, so replaying the same inputs at the same
/// database times always yields the same history.
/// </summary>
public static partial class ApprovalMachine
{
    /// <summary>Actor recorded for timers, expiry and execution events.</summary>
    public const string SystemActor = "system";

    /// <summary>Validates <paramref name="request"/> and opens the workflow at stage 0.</summary>
    public static Transition Start(Guid id, ApprovalRequest request, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(request);

        var problems = Validate(request);
        if (problems.Count > 0)
        {
            return Transition.Reject(null, RejectionCode.InvalidRequest, "Invalid approval request: " + string.Join("; ", problems) + ".");
        }

        var state = new ApprovalState
        {
            Id = id,
            Request = request,
            Status = ApprovalStatus.Pending,
            Stage = 0,
            CreatedAt = now,
            DeadlineAt = now + request.Approvers.Timeout,
        };

        var body = new JsonObject
        {
            ["agent"] = request.AgentId,
            ["owner"] = request.AgentOwner,
            ["bundle"] = request.Bundle,
            ["upstream"] = request.Upstream,
            ["tool"] = request.Tool,
            ["argumentsDigest"] = request.ArgumentsDigest,
            ["rule"] = request.Rule,
            ["reason"] = request.Reason,
            ["group"] = request.Approvers.Group,
            ["approvers"] = ToJsonArray(request.Approvers.Approvers.Select(a => a.Trim())),
            ["quorum"] = request.Quorum,
            ["deadlineAt"] = state.DeadlineAt,
        };
        if (request.EscalateTo is not null)
        {
            body["escalateTo"] = request.EscalateTo.Group;
        }

        return Transition.Accept(
            state,
            [new HistoryEvent("requested", body, request.AgentId)],
            [DeadlineTask(state), .. NotifyTasks(state, now)]);
    }

    /// <summary>Applies one input. Rejected and ignored transitions return <paramref name="state"/> unchanged.</summary>
    public static Transition Apply(ApprovalState state, ApprovalInput input, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(input);

        return input switch
        {
            Approve approve => ApplyApprove(state, approve, now),
            Deny deny => ApplyDeny(state, deny, now),
            Cancel cancel => ApplyCancel(state, cancel, now),
            DeadlineReached deadline => ApplyDeadline(state, deadline, now),
            ExecutionStarted started => ApplyExecutionStarted(state, started),
            ExecutionSucceeded succeeded => ApplyExecutionSucceeded(state, succeeded, now),
            ExecutionFailed failed => ApplyExecutionFailed(state, failed, now),
            ExecutionOutcomeUnknown unknown => ApplyExecutionOutcomeUnknown(state, unknown, now),
            _ => Transition.Reject(state, RejectionCode.IllegalTransition,
                $"The approval workflow does not understand the input '{input.GetType().Name}'."),
        };
    }

    /// <summary>The stable snake_case name stored in the database and used in event names and notify keys.</summary>
    public static string StatusName(ApprovalStatus s) => s switch
    {
        ApprovalStatus.Pending => "pending",
        ApprovalStatus.Escalated => "escalated",
        ApprovalStatus.Approved => "approved",
        ApprovalStatus.Denied => "denied",
        ApprovalStatus.Expired => "expired",
        ApprovalStatus.Cancelled => "cancelled",
        ApprovalStatus.Executing => "executing",
        ApprovalStatus.Completed => "completed",
        ApprovalStatus.Failed => "failed",
        ApprovalStatus.InDoubt => "in_doubt",
        _ => throw new ArgumentOutOfRangeException(nameof(s), s, "Unknown approval status."),
    };

    /// <summary>The inverse of <see cref="StatusName"/>; exact names only, because they come from our own column.</summary>
    public static ApprovalStatus ParseStatus(string value) => value switch
    {
        "pending" => ApprovalStatus.Pending,
        "escalated" => ApprovalStatus.Escalated,
        "approved" => ApprovalStatus.Approved,
        "denied" => ApprovalStatus.Denied,
        "expired" => ApprovalStatus.Expired,
        "cancelled" => ApprovalStatus.Cancelled,
        "executing" => ApprovalStatus.Executing,
        "completed" => ApprovalStatus.Completed,
        "failed" => ApprovalStatus.Failed,
        "in_doubt" => ApprovalStatus.InDoubt,
        _ => throw new FormatException($"'{value}' is not an approval status."),
    };

    private static List<string> Validate(ApprovalRequest request)
    {
        var problems = new List<string>();
        RequireText(problems, "agentId", request.AgentId);
        RequireText(problems, "bundle", request.Bundle);
        RequireText(problems, "upstream", request.Upstream);
        RequireText(problems, "tool", request.Tool);
        RequireText(problems, "argumentsDigest", request.ArgumentsDigest);

        if (request.Quorum < 1)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"quorum {request.Quorum} must be at least 1"));
        }

        ValidateStage(problems, "approvers", "group", request.Approvers, request.Quorum);
        if (request.EscalateTo is not null)
        {
            ValidateStage(problems, "escalateTo", "escalation group", request.EscalateTo, request.Quorum);
        }

        return problems;
    }

    private static void RequireText(List<string> problems, string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add($"{field} must not be empty (got '{value}')");
        }
    }

    private static void ValidateStage(List<string> problems, string field, string label, ApproverStage stage, int quorum)
    {
        var group = stage.Group;
        if (stage.Approvers is null || stage.Approvers.Count == 0)
        {
            problems.Add($"{field}.approvers of {label} '{group}' must not be empty");
            return;
        }

        for (var i = 0; i < stage.Approvers.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(stage.Approvers[i]))
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{field}.approvers[{i}] of {label} '{group}' is blank"));
            }
        }

        if (stage.Timeout <= TimeSpan.Zero)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{field}.timeout {stage.Timeout} of {label} '{group}' must be positive"));
        }

        // Duplicates (in any case or spacing) are one person, so they cannot make a quorum reachable.
        var distinct = stage.Approvers
            .Where(a => !string.IsNullOrWhiteSpace(a))
            .Select(a => a.Trim())
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Count();
        if (quorum > distinct)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"quorum {quorum} exceeds the {distinct} approvers of {label} '{group}'"));
        }
    }

    private static ScheduleTask DeadlineTask(ApprovalState state) =>
        new(TaskKinds.Deadline, state.DeadlineAt, DeadlineKey(state.Stage), AtMostOnce: false, new JsonObject { ["stage"] = state.Stage });

    private static string DeadlineKey(int stage) => string.Create(CultureInfo.InvariantCulture, $"deadline:{stage}");

    /// <summary>
    /// The key names the state the cards must show, so a redelivered transition does not notify twice
    /// while each real change (including every vote) does.
    /// </summary>
    /// <remarks>None when no stage's approvers get cards (<see cref="ApprovalRequest.Notify"/>).</remarks>
    private static IEnumerable<TaskCommand> NotifyTasks(ApprovalState state, DateTimeOffset now) =>
        state.Request.Notify
            ? [new ScheduleTask(TaskKinds.Notify, now,
                string.Create(CultureInfo.InvariantCulture, $"notify:{StatusName(state.Status)}:{state.Stage}:{state.Votes.Count}"),
                AtMostOnce: false)]
            : [];

    private static JsonArray ToJsonArray(IEnumerable<string> values) =>
        new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);

    private static string FormatTime(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static bool SameIdentity(string? a, string? b) =>
        string.Equals(a?.Trim(), b?.Trim(), StringComparison.OrdinalIgnoreCase);
}
