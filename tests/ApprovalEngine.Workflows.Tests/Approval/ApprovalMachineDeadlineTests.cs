using ApprovalEngine.Workflows.Approval;
using static ApprovalEngine.Workflows.Tests.Approval.ApprovalFixtures;

namespace ApprovalEngine.Workflows.Tests.Approval;

public sealed class ApprovalMachineDeadlineTests
{
    private static readonly DateTimeOffset FirstDeadline = T0 + FinanceTimeout;

    [Fact]
    public void DeadlineReached_StageZeroWithEscalation_EscalatesToNewGroupAndDeadline()
    {
        var voted = Step(Started(Request(quorum: 2, allowEdits: true)),
            new Approve(Alice, Json("""{"amount":5}"""), EditedDigest), T0.AddMinutes(1));
        var firedAt = FirstDeadline.AddSeconds(3);

        var transition = ApprovalMachine.Apply(voted, new DeadlineReached(0), firedAt);

        Assert.True(transition.Accepted);
        var escalated = transition.State!;
        Assert.Equal(ApprovalStatus.Escalated, escalated.Status);
        Assert.Equal(1, escalated.Stage);
        Assert.Equal("execs", escalated.CurrentStage.Group);
        Assert.Equal(firedAt + ExecsTimeout, escalated.DeadlineAt);
        Assert.Empty(escalated.Votes);
        Assert.Null(escalated.EditedArguments);
        Assert.Null(escalated.EditedArgumentsDigest);

        var e = Assert.Single(transition.Events);
        Assert.Equal("escalated", e.Type);
        Assert.Equal("system", e.Actor);
        Assert.Equal("finance", (string?)e.Body["fromGroup"]);
        Assert.Equal("execs", (string?)e.Body["toGroup"]);
        Assert.Equal(firedAt + ExecsTimeout, e.Body["deadlineAt"]!.GetValue<DateTimeOffset>());

        Assert.Equal(2, transition.Tasks.Count);
        var deadline = Assert.IsType<ScheduleTask>(transition.Tasks[0]);
        Assert.Equal(TaskKinds.Deadline, deadline.Kind);
        Assert.Equal(firedAt + ExecsTimeout, deadline.RunAt);
        Assert.Equal("deadline:1", deadline.DedupKey);
        Assert.False(deadline.AtMostOnce);
        Assert.Equal(1, (int?)deadline.Args!["stage"]);
        Assert.Equal("notify:escalated:1:0", Assert.IsType<ScheduleTask>(transition.Tasks[1]).DedupKey);
    }

    [Fact]
    public void Approve_OldGroupAfterEscalation_NotAuthorized()
    {
        var escalated = StateIn(ApprovalStatus.Escalated);

        var transition = ApprovalMachine.Apply(escalated, new Approve(Alice), escalated.DeadlineAt.AddMinutes(-1));

        Assert.Equal(RejectionCode.NotAuthorized, transition.Code);
        Assert.Contains("'execs'", transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Approve_NewGroupAfterEscalation_Approved()
    {
        var escalated = StateIn(ApprovalStatus.Escalated);

        var approved = Step(escalated, new Approve(Carol), escalated.DeadlineAt.AddMinutes(-1));

        Assert.Equal(ApprovalStatus.Approved, approved.Status);
        Assert.Equal([Carol], approved.DecidedBy);
        Assert.Equal(1, approved.Stage);
    }

    [Fact]
    public void Approve_NewGroupAfterOldDeadlineBeforeNewOne_Accepted()
    {
        var escalated = StateIn(ApprovalStatus.Escalated);

        var transition = ApprovalMachine.Apply(escalated, new Deny(Dave), FirstDeadline.AddMinutes(30));

        Assert.True(transition.Accepted, transition.Message);
    }

    [Fact]
    public void DeadlineReached_EscalatedStage_Expires()
    {
        var escalated = StateIn(ApprovalStatus.Escalated);
        var firedAt = escalated.DeadlineAt.AddMilliseconds(250);

        var transition = ApprovalMachine.Apply(escalated, new DeadlineReached(1), firedAt);

        var expired = transition.State!;
        Assert.Equal(ApprovalStatus.Expired, expired.Status);
        Assert.Equal(["system"], expired.DecidedBy);
        Assert.Equal(firedAt, expired.DecidedAt);
        Assert.Equal("expired: no decision by 2026-03-02T14:00:00.000Z", expired.Reason);
        var e = Assert.Single(transition.Events);
        Assert.Equal("expired", e.Type);
        Assert.Equal("system", e.Actor);
        var notify = Assert.IsType<ScheduleTask>(Assert.Single(transition.Tasks));
        Assert.Equal("notify:expired:1:0", notify.DedupKey);
    }

    [Fact]
    public void DeadlineReached_NoEscalation_ExpiresKeepingVotes()
    {
        var voted = Step(Started(Request(quorum: 2, escalate: false)), new Approve(Alice), T0.AddMinutes(1));

        var transition = ApprovalMachine.Apply(voted, new DeadlineReached(0), FirstDeadline);

        Assert.Equal(ApprovalStatus.Expired, transition.State!.Status);
        Assert.Contains("expired", transition.State.Reason, StringComparison.Ordinal);
        Assert.Single(transition.State.Votes);
        Assert.Equal("notify:expired:0:1", Assert.IsType<ScheduleTask>(Assert.Single(transition.Tasks)).DedupKey);
    }

    [Fact]
    public void DeadlineReached_BeforeDeadline_Ignored()
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, new DeadlineReached(0), FirstDeadline.AddMilliseconds(-1));

        Assert.Equal(TransitionOutcome.Ignored, transition.Outcome);
        Assert.Same(pending, transition.State);
        Assert.Null(transition.Code);
        Assert.Empty(transition.Tasks);
    }

    [Fact]
    public void DeadlineReached_StaleStageAfterEscalation_Ignored()
    {
        var escalated = StateIn(ApprovalStatus.Escalated);

        var transition = ApprovalMachine.Apply(escalated, new DeadlineReached(0), escalated.DeadlineAt);

        Assert.Equal(TransitionOutcome.Ignored, transition.Outcome);
        Assert.Same(escalated, transition.State);
    }

    [Fact]
    public void DeadlineReached_AfterApproval_IgnoredAsLateTimer()
    {
        var approved = StateIn(ApprovalStatus.Approved);

        var transition = ApprovalMachine.Apply(approved, new DeadlineReached(0), FirstDeadline);

        Assert.Equal(TransitionOutcome.Ignored, transition.Outcome);
        Assert.Same(approved, transition.State);
        Assert.Contains("approved", transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeadlineReached_FiredTwice_SecondIgnored()
    {
        var escalated = StateIn(ApprovalStatus.Escalated);

        var transition = ApprovalMachine.Apply(escalated, new DeadlineReached(0), FirstDeadline.AddSeconds(1));

        Assert.Equal(TransitionOutcome.Ignored, transition.Outcome);
        Assert.Equal(ApprovalStatus.Escalated, transition.State!.Status);
    }
}
