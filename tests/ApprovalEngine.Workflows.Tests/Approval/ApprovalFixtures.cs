using System.Text.Json;
using ApprovalEngine.Workflows.Approval;

namespace ApprovalEngine.Workflows.Tests.Approval;

/// <summary>A request and helpers that reach every status through the machine itself.</summary>
internal static class ApprovalFixtures
{
    public const string Owner = "owner@x.com";
    public const string Alice = "alice@x.com";
    public const string Bob = "bob@x.com";
    public const string Carol = "carol@x.com";
    public const string Dave = "dave@x.com";
    public const string OriginalDigest = "sha256:original";
    public const string EditedDigest = "sha256:edited";

    public static readonly Guid Id = new("0b5c3f0e-6a57-4f3e-9d0f-2f6f1f7b1a01");
    public static readonly DateTimeOffset T0 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
    public static readonly TimeSpan FinanceTimeout = TimeSpan.FromHours(1);
    public static readonly TimeSpan ExecsTimeout = TimeSpan.FromHours(4);

    public static JsonElement Json(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    /// <summary>Owner is deliberately in the finance group, so self-approval is reachable.</summary>
    public static ApprovalRequest Request(int quorum = 1, bool escalate = true, bool idempotent = false, bool allowEdits = false) => new()
    {
        AgentId = "agent-7",
        AgentOwner = Owner,
        Bundle = "payments",
        Upstream = "bank",
        Tool = "transfer",
        Arguments = Json("""{"amount":10}"""),
        ArgumentsDigest = OriginalDigest,
        Rule = "large-transfer",
        Reason = "amount over limit",
        Approvers = new ApproverStage { Group = "finance", Approvers = [Alice, Bob, Owner], Timeout = FinanceTimeout },
        Quorum = quorum,
        EscalateTo = escalate ? new ApproverStage { Group = "execs", Approvers = [Carol, Dave], Timeout = ExecsTimeout } : null,
        AllowEditedArguments = allowEdits,
        ToolIdempotent = idempotent,
    };

    public static ApprovalState Started(ApprovalRequest? request = null)
    {
        var transition = ApprovalMachine.Start(Id, request ?? Request(), T0);
        Assert.True(transition.Accepted, transition.Message);
        return transition.State!;
    }

    /// <summary>Applies an input that the scenario expects to be accepted.</summary>
    public static ApprovalState Step(ApprovalState state, ApprovalInput input, DateTimeOffset now)
    {
        var transition = ApprovalMachine.Apply(state, input, now);
        Assert.True(transition.Accepted, $"{input} was {transition.Outcome}: {transition.Code} {transition.Message}");
        return transition.State!;
    }

    /// <summary>A state in <paramref name="status"/>, reached only through Start and Apply.</summary>
    public static ApprovalState StateIn(ApprovalStatus status, bool idempotent = false)
    {
        var request = Request(idempotent: idempotent);
        var pending = Started(request);
        var during = T0.AddMinutes(5);
        return status switch
        {
            ApprovalStatus.Pending => pending,
            ApprovalStatus.Escalated => Escalated(pending),
            ApprovalStatus.Approved => Step(pending, new Approve(Alice), during),
            ApprovalStatus.Denied => Step(pending, new Deny(Alice, "too large"), during),
            ApprovalStatus.Expired => Step(Escalated(pending), new DeadlineReached(1), T0 + FinanceTimeout + ExecsTimeout),
            ApprovalStatus.Cancelled => Step(pending, new Cancel("agent-7", "no longer needed"), during),
            ApprovalStatus.Executing => Step(StateIn(ApprovalStatus.Approved, idempotent), new ExecutionStarted(1), during),
            ApprovalStatus.Completed => Step(StateIn(ApprovalStatus.Executing, idempotent), new ExecutionSucceeded(Json("""{"ok":true}""")), during),
            ApprovalStatus.Failed => Step(StateIn(ApprovalStatus.Executing, idempotent), new ExecutionFailed("upstream said 500"), during),
            ApprovalStatus.InDoubt => Step(StateIn(ApprovalStatus.Executing, idempotent), new ExecutionOutcomeUnknown("worker crashed mid-call"), during),
            _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
        };
    }

    private static ApprovalState Escalated(ApprovalState pending) => Step(pending, new DeadlineReached(0), T0 + FinanceTimeout);
}

/// <summary>An input type the machine has never heard of.</summary>
internal sealed record UnknownInput : ApprovalInput;
