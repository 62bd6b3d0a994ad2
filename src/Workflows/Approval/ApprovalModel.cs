using System.Text.Json;
using System.Text.Json.Serialization;

namespace ApprovalEngine.Workflows.Approval;

/// <summary>Where an approval is in its life. Open: Pending, Escalated. Final: Denied, Expired, Cancelled, Completed, Failed, InDoubt.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ApprovalStatus>))]
public enum ApprovalStatus
{
    Pending,
    Escalated,
    Approved,
    Denied,
    Expired,
    Cancelled,
    Executing,
    Completed,
    Failed,
    InDoubt,
}

/// <summary>A set of people who may decide, with how long they have.</summary>
public sealed record ApproverStage
{
    public required string Group { get; init; }

    /// <summary>Approver identities (emails, compared case-insensitively).</summary>
    public required IReadOnlyList<string> Approvers { get; init; }

    public required TimeSpan Timeout { get; init; }
}

/// <summary>What the gateway asks a human to approve. Immutable for the life of the workflow.</summary>
public sealed record ApprovalRequest
{
    public required string AgentId { get; init; }

    /// <summary>The agent's human owner (email). The owner may not approve their own agent's request.</summary>
    public string? AgentOwner { get; init; }

    public required string Bundle { get; init; }
    public required string Upstream { get; init; }
    public required string Tool { get; init; }
    public required JsonElement Arguments { get; init; }

    /// <summary>Digest of the exact arguments; the approval is bound to it.</summary>
    public required string ArgumentsDigest { get; init; }

    public string? Rule { get; init; }
    public string? Reason { get; init; }
    public required ApproverStage Approvers { get; init; }

    /// <summary>Distinct approvers needed, out of the current stage's set.</summary>
    public int Quorum { get; init; } = 1;

    /// <summary>On the deadline: escalate to this stage (once), or expire when null.</summary>
    public ApproverStage? EscalateTo { get; init; }

    public bool AllowEditedArguments { get; init; }

    /// <summary>The tool is safe to retry (MCP <c>idempotentHint</c>); otherwise it runs at most once.</summary>
    public bool ToolIdempotent { get; init; }

    /// <summary>The W3C <c>traceparent</c> of the call that asked, so the workflow's tasks join its trace on any node.</summary>
    public string? TraceParent { get; init; }

    /// <summary>
    /// Whether any stage's approvers get cards on a channel (Slack, Teams). When none do, the workflow schedules no
    /// <c>notify</c> tasks: each would cost transactions and find nothing to send. Absent in older requests: true.
    /// </summary>
    public bool Notify { get; init; } = true;
}

public sealed record ApprovalVote
{
    public required string Approver { get; init; }
    public required DateTimeOffset At { get; init; }

    /// <summary>The argument digest this vote approves (the original or an edited one).</summary>
    public required string ArgumentsDigest { get; init; }

    public string? Comment { get; init; }
}

/// <summary>The whole state of one approval workflow. Produced only by <see cref="ApprovalMachine"/>.</summary>
public sealed record ApprovalState
{
    public required Guid Id { get; init; }
    public required ApprovalRequest Request { get; init; }
    public required ApprovalStatus Status { get; init; }

    /// <summary>0 = the request's approvers; 1 = the escalation stage.</summary>
    public int Stage { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Deadline of the current stage (database clock).</summary>
    public required DateTimeOffset DeadlineAt { get; init; }

    public IReadOnlyList<ApprovalVote> Votes { get; init; } = [];

    public JsonElement? EditedArguments { get; init; }
    public string? EditedArgumentsDigest { get; init; }

    /// <summary>Who made the final decision (every approver of the quorum, or the denier/canceller); "system" for expiry.</summary>
    public IReadOnlyList<string> DecidedBy { get; init; } = [];

    public DateTimeOffset? DecidedAt { get; init; }

    /// <summary>Deny/cancel reason, or why it expired, failed or is in doubt.</summary>
    public string? Reason { get; init; }

    public int ExecutionAttempts { get; init; }
    public JsonElement? Result { get; init; }
    public string? Error { get; init; }

    [JsonIgnore]
    public ApproverStage CurrentStage => Stage == 0 || Request.EscalateTo is null ? Request.Approvers : Request.EscalateTo;

    /// <summary>The arguments that will run: the edited ones when an approver edited them.</summary>
    [JsonIgnore]
    public JsonElement EffectiveArguments => EditedArguments ?? Request.Arguments;

    [JsonIgnore]
    public bool IsOpen => Status is ApprovalStatus.Pending or ApprovalStatus.Escalated;

    [JsonIgnore]
    public bool IsFinal => Status is ApprovalStatus.Denied or ApprovalStatus.Expired or ApprovalStatus.Cancelled
        or ApprovalStatus.Completed or ApprovalStatus.Failed or ApprovalStatus.InDoubt;
}
