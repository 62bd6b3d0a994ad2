using ApprovalEngine.Workflows.Approval;
using static ApprovalEngine.Workflows.Tests.Approval.ApprovalFixtures;

namespace ApprovalEngine.Workflows.Tests.Approval;

/// <summary>Every status × every input kind: accepted, ignored or rejected, with the code and resulting status.</summary>
public sealed class ApprovalMachineTransitionTableTests
{
    private static readonly string[] InputKinds =
        ["approve", "deny", "cancel", "deadline", "started", "succeeded", "failed", "outcome_unknown", "unknown_input"];

    private sealed record Cell(TransitionOutcome Outcome, RejectionCode? Code, ApprovalStatus? To);

    private static Cell To(ApprovalStatus to) => new(TransitionOutcome.Accepted, null, to);

    private static readonly Cell Ignored = new(TransitionOutcome.Ignored, null, null);
    private static readonly Cell Decided = new(TransitionOutcome.Rejected, RejectionCode.AlreadyDecided, null);
    private static readonly Cell Illegal = new(TransitionOutcome.Rejected, RejectionCode.IllegalTransition, null);

    // Columns follow InputKinds. A final or approved state takes no decision and ignores its timer.
    private static readonly Dictionary<ApprovalStatus, Cell[]> Table = new()
    {
        [ApprovalStatus.Pending] = [To(ApprovalStatus.Approved), To(ApprovalStatus.Denied), To(ApprovalStatus.Cancelled), To(ApprovalStatus.Escalated), Illegal, Illegal, Illegal, Illegal, Illegal],
        [ApprovalStatus.Escalated] = [To(ApprovalStatus.Approved), To(ApprovalStatus.Denied), To(ApprovalStatus.Cancelled), To(ApprovalStatus.Expired), Illegal, Illegal, Illegal, Illegal, Illegal],
        [ApprovalStatus.Approved] = [Decided, Decided, Decided, Ignored, To(ApprovalStatus.Executing), Illegal, To(ApprovalStatus.Failed), Illegal, Illegal],
        [ApprovalStatus.Denied] = [Decided, Decided, Decided, Ignored, Illegal, Illegal, Illegal, Illegal, Illegal],
        [ApprovalStatus.Expired] = [Decided, Decided, Decided, Ignored, Illegal, Illegal, Illegal, Illegal, Illegal],
        [ApprovalStatus.Cancelled] = [Decided, Decided, Decided, Ignored, Illegal, Illegal, Illegal, Illegal, Illegal],
        [ApprovalStatus.Executing] = [Decided, Decided, Decided, Ignored, Illegal, To(ApprovalStatus.Completed), To(ApprovalStatus.Failed), To(ApprovalStatus.InDoubt), Illegal],
        [ApprovalStatus.Completed] = [Decided, Decided, Decided, Ignored, Illegal, Illegal, Illegal, Illegal, Illegal],
        [ApprovalStatus.Failed] = [Decided, Decided, Decided, Ignored, Illegal, Illegal, Illegal, Illegal, Illegal],
        [ApprovalStatus.InDoubt] = [Decided, Decided, Decided, Ignored, Illegal, Illegal, Illegal, Illegal, Illegal],
    };

    public static IEnumerable<object[]> AllCombinations() =>
        from status in Enum.GetValues<ApprovalStatus>()
        from kind in InputKinds
        select new object[] { status, kind };

    [Fact]
    public void Table_CoversEveryStatusAndInputKind_Complete()
    {
        Assert.Equal(Enum.GetValues<ApprovalStatus>().Order(), Table.Keys.Order());
        Assert.All(Table.Values, row => Assert.Equal(InputKinds.Length, row.Length));
    }

    [Fact]
    public void Fixtures_StateIn_ReachesRequestedStatus()
    {
        Assert.All(Enum.GetValues<ApprovalStatus>(), status => Assert.Equal(status, StateIn(status).Status));
    }

    [Theory]
    [MemberData(nameof(AllCombinations))]
    public void Apply_EveryStatusAndInput_MatchesTable(ApprovalStatus status, string kind)
    {
        var state = StateIn(status);
        var expected = Table[status][Array.IndexOf(InputKinds, kind)];
        var (input, now) = InputFor(kind, state);

        var transition = ApprovalMachine.Apply(state, input, now);

        Assert.True(expected.Outcome == transition.Outcome, $"{status} + {kind}: expected {expected.Outcome}, got {transition.Outcome} ({transition.Code}: {transition.Message})");
        Assert.Equal(expected.Code, transition.Code);
        if (!transition.Accepted)
        {
            Assert.Same(state, transition.State);
            Assert.Empty(transition.Events);
            Assert.Empty(transition.Tasks);
            Assert.False(string.IsNullOrWhiteSpace(transition.Message));
            return;
        }

        var next = transition.State!;
        Assert.Equal(expected.To, next.Status);
        Assert.Equal(state.Id, next.Id);
        Assert.NotEmpty(transition.Events);

        var notify = transition.Tasks.OfType<ScheduleTask>().Where(t => t.Kind == TaskKinds.Notify).ToList();
        if (kind == "started")
        {
            Assert.Empty(notify);
        }
        else
        {
            var task = Assert.Single(notify);
            Assert.Equal($"notify:{ApprovalMachine.StatusName(next.Status)}:{next.Stage}:{next.Votes.Count}", task.DedupKey);
            Assert.Equal(now, task.RunAt);
            Assert.False(task.AtMostOnce);
            Assert.Null(task.Args);
        }
    }

    /// <summary>Decisions come from someone allowed to decide, before the deadline; timers fire exactly on time.</summary>
    private static (ApprovalInput Input, DateTimeOffset Now) InputFor(string kind, ApprovalState state)
    {
        var beforeDeadline = state.DeadlineAt.AddMinutes(-1);
        var approver = state.CurrentStage.Approvers[0];
        return kind switch
        {
            "approve" => (new Approve(approver), beforeDeadline),
            "deny" => (new Deny(approver, "no"), beforeDeadline),
            "cancel" => (new Cancel("agent-7"), beforeDeadline),
            "deadline" => (new DeadlineReached(state.Stage), state.DeadlineAt),
            "started" => (new ExecutionStarted(state.ExecutionAttempts + 1), beforeDeadline),
            "succeeded" => (new ExecutionSucceeded(Json("""{"ok":true}""")), beforeDeadline),
            "failed" => (new ExecutionFailed("boom"), beforeDeadline),
            "outcome_unknown" => (new ExecutionOutcomeUnknown("timeout mid-call"), beforeDeadline),
            "unknown_input" => (new UnknownInput(), beforeDeadline),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
    }
}
