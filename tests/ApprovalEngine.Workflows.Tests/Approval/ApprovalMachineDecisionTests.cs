using ApprovalEngine.Workflows.Approval;
using static ApprovalEngine.Workflows.Tests.Approval.ApprovalFixtures;

namespace ApprovalEngine.Workflows.Tests.Approval;

public sealed class ApprovalMachineDecisionTests
{
    private static readonly DateTimeOffset During = T0.AddMinutes(10);

    [Fact]
    public void Approve_QuorumOfTwo_FirstVoteKeepsPendingSecondApproves()
    {
        var pending = Started(Request(quorum: 2));

        var first = ApprovalMachine.Apply(pending, new Approve(Alice, Comment: "ok by me"), During);

        Assert.True(first.Accepted);
        Assert.Equal(ApprovalStatus.Pending, first.State!.Status);
        var vote = Assert.Single(first.State.Votes);
        Assert.Equal(Alice, vote.Approver);
        Assert.Equal(During, vote.At);
        Assert.Equal(OriginalDigest, vote.ArgumentsDigest);
        Assert.Equal("ok by me", vote.Comment);
        var recorded = Assert.Single(first.Events);
        Assert.Equal("vote_recorded", recorded.Type);
        Assert.Equal(Alice, recorded.Actor);
        Assert.Equal(Alice, (string?)recorded.Body["approver"]);
        Assert.Equal(1, (int?)recorded.Body["votes"]);
        Assert.Equal(2, (int?)recorded.Body["quorum"]);
        var notify = Assert.IsType<ScheduleTask>(Assert.Single(first.Tasks));
        Assert.Equal("notify:pending:0:1", notify.DedupKey);

        var later = During.AddMinutes(1);
        var second = ApprovalMachine.Apply(first.State, new Approve(Bob), later);

        Assert.True(second.Accepted);
        var approved = second.State!;
        Assert.Equal(ApprovalStatus.Approved, approved.Status);
        Assert.Equal([Alice, Bob], approved.DecidedBy);
        Assert.Equal(later, approved.DecidedAt);
        Assert.Equal(["vote_recorded", "approved"], second.Events.Select(e => e.Type));
        var body = second.Events[1].Body;
        Assert.Equal([Alice, Bob], body["approvers"]!.AsArray().Select(n => (string?)n));
        Assert.Equal(OriginalDigest, (string?)body["argumentsDigest"]);
        Assert.Equal(OriginalDigest, (string?)body["originalArgumentsDigest"]);
        Assert.False((bool)body["edited"]!);
    }

    [Fact]
    public void Approve_SameApproverTwiceInOtherCase_AlreadyVoted()
    {
        var voted = Step(Started(Request(quorum: 2)), new Approve(Alice), During);

        var again = ApprovalMachine.Apply(voted, new Approve("  ALICE@X.COM "), During.AddMinutes(1));

        Assert.Equal(RejectionCode.AlreadyVoted, again.Code);
        Assert.Same(voted, again.State);
        Assert.Contains(Alice, again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Approve_IdentityInOtherCaseAndSpacing_RecordedWithGroupSpelling()
    {
        var approved = Step(Started(), new Approve(" Alice@X.com "), During);

        Assert.Equal([Alice], approved.DecidedBy);
        Assert.Equal(Alice, Assert.Single(approved.Votes).Approver);
    }

    [Theory]
    [InlineData(Owner)]
    [InlineData(" OWNER@x.com")]
    public void Approve_ByAgentOwner_SelfApproval(string identity)
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, new Approve(identity), During);

        Assert.Equal(RejectionCode.SelfApproval, transition.Code);
        Assert.Same(pending, transition.State);
        Assert.Contains(Owner, transition.Message, StringComparison.Ordinal);
        Assert.Contains("agent-7", transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deny_ByAgentOwnerInGroup_Accepted()
    {
        var denied = Step(Started(), new Deny(Owner, "changed my mind"), During);

        Assert.Equal(ApprovalStatus.Denied, denied.Status);
        Assert.Equal([Owner], denied.DecidedBy);
    }

    [Theory]
    [InlineData("mallory@x.com")]
    [InlineData("")]
    [InlineData(Carol)]
    public void Approve_NotInGroup_NotAuthorized(string identity)
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, new Approve(identity), During);

        Assert.Equal(RejectionCode.NotAuthorized, transition.Code);
        Assert.Same(pending, transition.State);
        Assert.Contains($"'{identity}'", transition.Message, StringComparison.Ordinal);
        Assert.Contains("'finance'", transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deny_NotInGroup_NotAuthorized()
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, new Deny("mallory@x.com"), During);

        Assert.Equal(RejectionCode.NotAuthorized, transition.Code);
        Assert.Contains("mallory@x.com", transition.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> DecisionKinds() => ["approve", "deny", "cancel"];

    [Theory]
    [MemberData(nameof(DecisionKinds))]
    public void Decision_ExactlyAtDeadline_DeadlinePassed(string kind)
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, Decision(kind), pending.DeadlineAt);

        Assert.Equal(RejectionCode.DeadlinePassed, transition.Code);
        Assert.Same(pending, transition.State);
        Assert.Equal("The deadline 2026-03-02T10:00:00.000Z passed; the request no longer accepts decisions.", transition.Message);
    }

    [Theory]
    [MemberData(nameof(DecisionKinds))]
    public void Decision_OneMillisecondAfterDeadline_DeadlinePassed(string kind)
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, Decision(kind), pending.DeadlineAt.AddMilliseconds(1));

        Assert.Equal(RejectionCode.DeadlinePassed, transition.Code);
        Assert.Equal(ApprovalStatus.Pending, transition.State!.Status);
    }

    [Theory]
    [MemberData(nameof(DecisionKinds))]
    public void Decision_OneMillisecondBeforeDeadline_Accepted(string kind)
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, Decision(kind), pending.DeadlineAt.AddMilliseconds(-1));

        Assert.True(transition.Accepted, transition.Message);
    }

    [Fact]
    public void Deny_AfterApproval_AlreadyDecidedNamingWinner()
    {
        var approved = Step(Started(), new Approve(Alice), During);

        var transition = ApprovalMachine.Apply(approved, new Deny(Bob, "too late"), During.AddSeconds(1));

        Assert.Equal(RejectionCode.AlreadyDecided, transition.Code);
        Assert.Same(approved, transition.State);
        Assert.Equal($"The request was already approved by {Alice}.", transition.Message);
    }

    [Fact]
    public void Approve_AfterDenial_AlreadyDecidedNamingDenierAndReason()
    {
        var denied = Step(Started(), new Deny(Bob, "not in budget"), During);

        var transition = ApprovalMachine.Apply(denied, new Approve(Alice), During.AddSeconds(1));

        Assert.Equal(RejectionCode.AlreadyDecided, transition.Code);
        Assert.Contains($"already denied by {Bob} (not in budget)", transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Approve_AfterQuorumApproval_AlreadyDecidedNamingAllApprovers()
    {
        var voted = Step(Started(Request(quorum: 2)), new Approve(Alice), During);
        var approved = Step(voted, new Approve(Bob), During);

        var transition = ApprovalMachine.Apply(approved, new Approve(Owner), During);

        Assert.Equal(RejectionCode.AlreadyDecided, transition.Code);
        Assert.Contains($"already approved by {Alice}, {Bob}", transition.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ApprovalStatus.Executing, "already approved by alice@x.com (now executing)")]
    [InlineData(ApprovalStatus.Completed, "already approved by alice@x.com (now completed)")]
    [InlineData(ApprovalStatus.Failed, "already approved by alice@x.com (now failed)")]
    [InlineData(ApprovalStatus.InDoubt, "already approved by alice@x.com (now in_doubt)")]
    [InlineData(ApprovalStatus.Cancelled, "already cancelled by agent-7 (no longer needed)")]
    [InlineData(ApprovalStatus.Expired, "already expired: no decision by 2026-03-02T14:00:00.000Z")]
    public void Deny_AfterFinalDecision_AlreadyDecidedMessage(ApprovalStatus status, string expected)
    {
        var state = StateIn(status);

        var transition = ApprovalMachine.Apply(state, new Deny(Bob), state.DeadlineAt.AddHours(-1));

        Assert.Equal(RejectionCode.AlreadyDecided, transition.Code);
        Assert.Contains(expected, transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deny_Pending_DeniedWithEventAndTasks()
    {
        var voted = Step(Started(Request(quorum: 2)), new Approve(Alice), During);

        var transition = ApprovalMachine.Apply(voted, new Deny(" BOB@x.com", "not in budget"), During.AddMinutes(1));

        var denied = transition.State!;
        Assert.Equal(ApprovalStatus.Denied, denied.Status);
        Assert.Equal([Bob], denied.DecidedBy);
        Assert.Equal(During.AddMinutes(1), denied.DecidedAt);
        Assert.Equal("not in budget", denied.Reason);
        var e = Assert.Single(transition.Events);
        Assert.Equal("denied", e.Type);
        Assert.Equal(Bob, e.Actor);
        Assert.Equal("not in budget", (string?)e.Body["reason"]);
        Assert.Equal(2, transition.Tasks.Count);
        Assert.Equal(TaskKinds.Deadline, Assert.IsType<CancelTasks>(transition.Tasks[0]).Kind);
        Assert.Equal("notify:denied:0:1", Assert.IsType<ScheduleTask>(transition.Tasks[1]).DedupKey);
    }

    [Fact]
    public void Cancel_Pending_CancelledWithEventAndTasks()
    {
        var transition = ApprovalMachine.Apply(Started(), new Cancel(" agent-7 ", "no longer needed"), During);

        var cancelled = transition.State!;
        Assert.Equal(ApprovalStatus.Cancelled, cancelled.Status);
        Assert.Equal(["agent-7"], cancelled.DecidedBy);
        Assert.Equal(During, cancelled.DecidedAt);
        Assert.Equal("no longer needed", cancelled.Reason);
        var e = Assert.Single(transition.Events);
        Assert.Equal("cancelled", e.Type);
        Assert.Equal("agent-7", e.Actor);
        Assert.Equal(TaskKinds.Deadline, Assert.IsType<CancelTasks>(transition.Tasks[0]).Kind);
        Assert.Equal("notify:cancelled:0:0", Assert.IsType<ScheduleTask>(transition.Tasks[1]).DedupKey);
    }

    [Fact]
    public void Cancel_BlankActor_InvalidRequest()
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, new Cancel(" "), During);

        Assert.Equal(RejectionCode.InvalidRequest, transition.Code);
        Assert.Same(pending, transition.State);
    }

    [Fact]
    public void Approve_QuorumReached_CancelsDeadlineAndSchedulesAtMostOnceExecute()
    {
        var transition = ApprovalMachine.Apply(Started(Request(idempotent: false)), new Approve(Alice), During);

        Assert.Equal(3, transition.Tasks.Count);
        Assert.Equal(TaskKinds.Deadline, Assert.IsType<CancelTasks>(transition.Tasks[0]).Kind);
        var execute = Assert.IsType<ScheduleTask>(transition.Tasks[1]);
        Assert.Equal(TaskKinds.Execute, execute.Kind);
        Assert.Equal("execute", execute.DedupKey);
        Assert.Equal(During, execute.RunAt);
        Assert.True(execute.AtMostOnce);
        Assert.Equal("notify:approved:0:1", Assert.IsType<ScheduleTask>(transition.Tasks[2]).DedupKey);
    }

    [Fact]
    public void Approve_IdempotentTool_ExecuteMayRetry()
    {
        var transition = ApprovalMachine.Apply(Started(Request(idempotent: true)), new Approve(Alice), During);

        var execute = transition.Tasks.OfType<ScheduleTask>().Single(t => t.Kind == TaskKinds.Execute);
        Assert.False(execute.AtMostOnce);
    }

    [Fact]
    public void Apply_UnknownInput_IllegalTransitionNamingType()
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, new UnknownInput(), During);

        Assert.Equal(RejectionCode.IllegalTransition, transition.Code);
        Assert.Contains(nameof(UnknownInput), transition.Message, StringComparison.Ordinal);
    }

    private static ApprovalInput Decision(string kind) => kind switch
    {
        "approve" => new Approve(Alice),
        "deny" => new Deny(Alice),
        "cancel" => new Cancel("agent-7"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
