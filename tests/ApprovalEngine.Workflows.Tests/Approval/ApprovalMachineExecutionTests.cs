using ApprovalEngine.Workflows.Approval;
using static ApprovalEngine.Workflows.Tests.Approval.ApprovalFixtures;

namespace ApprovalEngine.Workflows.Tests.Approval;

public sealed class ApprovalMachineExecutionTests
{
    private static readonly DateTimeOffset Later = T0.AddMinutes(20);

    [Fact]
    public void ExecutionStarted_Approved_ExecutingWithoutNotify()
    {
        var approved = StateIn(ApprovalStatus.Approved);

        var transition = ApprovalMachine.Apply(approved, new ExecutionStarted(1), Later);

        Assert.Equal(ApprovalStatus.Executing, transition.State!.Status);
        Assert.Equal(1, transition.State.ExecutionAttempts);
        var e = Assert.Single(transition.Events);
        Assert.Equal("execution_started", e.Type);
        Assert.Equal("system", e.Actor);
        Assert.Equal(1, (int?)e.Body["attempt"]);
        Assert.Empty(transition.Tasks);
    }

    [Fact]
    public void ExecutionStarted_RetryOfIdempotentTool_Accepted()
    {
        var executing = StateIn(ApprovalStatus.Executing, idempotent: true);

        var transition = ApprovalMachine.Apply(executing, new ExecutionStarted(2), Later);

        Assert.True(transition.Accepted, transition.Message);
        Assert.Equal(ApprovalStatus.Executing, transition.State!.Status);
        Assert.Equal(2, transition.State.ExecutionAttempts);
        var e = Assert.Single(transition.Events);
        Assert.Equal("execution_started", e.Type);
        Assert.Equal(2, (int?)e.Body["attempt"]);
    }

    [Fact]
    public void ExecutionStarted_RetryOfNonIdempotentTool_IllegalTransition()
    {
        var executing = StateIn(ApprovalStatus.Executing, idempotent: false);

        var transition = ApprovalMachine.Apply(executing, new ExecutionStarted(2), Later);

        Assert.Equal(RejectionCode.IllegalTransition, transition.Code);
        Assert.Same(executing, transition.State);
        Assert.Contains("at most once", transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExecutionStarted_Pending_IllegalTransition()
    {
        var pending = Started();

        var transition = ApprovalMachine.Apply(pending, new ExecutionStarted(1), Later);

        Assert.Equal(RejectionCode.IllegalTransition, transition.Code);
        Assert.Contains("pending", transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExecutionSucceeded_Executing_CompletedWithResult()
    {
        var executing = StateIn(ApprovalStatus.Executing);

        var transition = ApprovalMachine.Apply(executing, new ExecutionSucceeded(Json("""{"id":"tx-1"}""")), Later);

        var completed = transition.State!;
        Assert.Equal(ApprovalStatus.Completed, completed.Status);
        Assert.Equal("tx-1", completed.Result!.Value.GetProperty("id").GetString());
        Assert.Equal("execution_succeeded", Assert.Single(transition.Events).Type);
        var notify = Assert.IsType<ScheduleTask>(Assert.Single(transition.Tasks));
        Assert.Equal(TaskKinds.Notify, notify.Kind);
        Assert.Equal("notify:completed:0:1", notify.DedupKey);
    }

    [Fact]
    public void ExecutionFailed_Executing_FailedWithError()
    {
        var executing = StateIn(ApprovalStatus.Executing);

        var transition = ApprovalMachine.Apply(executing, new ExecutionFailed("HTTP 500"), Later);

        Assert.Equal(ApprovalStatus.Failed, transition.State!.Status);
        Assert.Equal("HTTP 500", transition.State.Error);
        var e = Assert.Single(transition.Events);
        Assert.Equal("execution_failed", e.Type);
        Assert.Equal("HTTP 500", (string?)e.Body["error"]);
        Assert.Equal("notify:failed:0:1", Assert.IsType<ScheduleTask>(Assert.Single(transition.Tasks)).DedupKey);
    }

    [Fact]
    public void ExecutionFailed_ApprovedNeverStarted_Failed()
    {
        var approved = StateIn(ApprovalStatus.Approved);

        var transition = ApprovalMachine.Apply(approved, new ExecutionFailed("unknown upstream 'bank'"), Later);

        Assert.Equal(ApprovalStatus.Failed, transition.State!.Status);
        Assert.Equal(0, transition.State.ExecutionAttempts);
        Assert.False((bool)transition.Events[0].Body["started"]!);
    }

    [Fact]
    public void ExecutionOutcomeUnknown_Executing_InDoubt()
    {
        var executing = StateIn(ApprovalStatus.Executing);

        var transition = ApprovalMachine.Apply(executing, new ExecutionOutcomeUnknown("worker died mid-call"), Later);

        var inDoubt = transition.State!;
        Assert.Equal(ApprovalStatus.InDoubt, inDoubt.Status);
        Assert.Equal("worker died mid-call", inDoubt.Reason);
        Assert.Equal("worker died mid-call", inDoubt.Error);
        Assert.Equal("execution_in_doubt", Assert.Single(transition.Events).Type);
        Assert.Equal("notify:in_doubt:0:1", Assert.IsType<ScheduleTask>(Assert.Single(transition.Tasks)).DedupKey);
    }

    [Fact]
    public void ExecutionOutcomeUnknown_Approved_IllegalTransition()
    {
        var approved = StateIn(ApprovalStatus.Approved);

        var transition = ApprovalMachine.Apply(approved, new ExecutionOutcomeUnknown("?"), Later);

        Assert.Equal(RejectionCode.IllegalTransition, transition.Code);
        Assert.Same(approved, transition.State);
    }

    [Fact]
    public void ExecutionSucceeded_Completed_IllegalTransition()
    {
        var completed = StateIn(ApprovalStatus.Completed);

        var transition = ApprovalMachine.Apply(completed, new ExecutionSucceeded(Json("{}")), Later);

        Assert.Equal(RejectionCode.IllegalTransition, transition.Code);
        Assert.Contains("completed", transition.Message, StringComparison.Ordinal);
    }
}
