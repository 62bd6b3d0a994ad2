using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Workflows.Tests.Runtime;

public sealed class LeaseTests
{
    [Fact]
    public async Task ExpiredLease_OldWorkerCannotCompleteOrChangeWorkflow_ReaperHandsTaskToAnotherWorker()
    {
        var db = await TestPostgres.CreateDatabaseAsync(nameof(LeaseTests));
        await using var api = await TestNode.StartAsync(db, o => o.RunWorker = false);
        var start = await api.Runtime.StartAsync("k", TestRequests.Create(idempotent: true));
        await api.Runtime.SignalAsync(start.Workflow.Id, new SignalRequest("approve", "a", "alice@example.com"));

        // A "zombie" worker claims the execute task with a short lease, then stalls.
        await using var dataSource = NpgsqlDataSource.Create(db);
        var zombie = new TaskQueue(dataSource);
        var (claimed, _) = await zombie.ClaimAsync(10, "zombie", [TaskKinds.Execute], TimeSpan.FromMilliseconds(300), CancellationToken.None);
        var task = Assert.Single(claimed);
        await Db.WaitUntilAsync(
            async () => await Db.ScalarAsync<bool>(db, "SELECT lease_until < now() FROM wf_task WHERE id = $1", task.Id),
            TimeSpan.FromSeconds(10), "the zombie's lease expires");

        // Any node's reaper hands it back; a healthy worker runs it to completion.
        await using var healthy = await TestNode.StartAsync(db);
        Assert.True(await healthy.Reaper.ReapOnceAsync() >= 1);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var done = await healthy.Runtime.AwaitAsync(start.Workflow.Id, cancellationToken: cts.Token);
        Assert.Equal(ApprovalStatus.Completed, done.State.Status);
        var footprint = await Db.FootprintAsync(db, start.Workflow.Id);

        // The zombie wakes up: every write it tries is fenced off.
        await Assert.ThrowsAsync<LeaseLostException>(() => api.Runtime.ApplyAsync(
            start.Workflow.Id, new ExecutionFailed("zombie"), task.Fence, _ => new TaskCompletion("done", null), known: null, CancellationToken.None));
        Assert.False(await zombie.HeartbeatAsync(task.Fence, TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.False(await zombie.FinishAsync(task.Fence, "dead", "zombie", CancellationToken.None));
        Assert.False(await zombie.RetryLaterAsync(task.Fence, "zombie", new ActivityOptions(), CancellationToken.None));

        Assert.Equal(footprint, await Db.FootprintAsync(db, start.Workflow.Id));
        Assert.Equal(ApprovalStatus.Completed, (await api.Runtime.GetAsync(start.Workflow.Id))!.State.Status);
        Assert.Equal("done", await Db.ScalarAsync<string>(db, "SELECT state FROM wf_task WHERE id = $1", task.Id));
    }

    [Fact]
    public async Task ExpiredLease_AtMostOnceTaskBeforeExecutionStarted_IsSafelyRequeued()
    {
        var db = await TestPostgres.CreateDatabaseAsync(nameof(LeaseTests));
        await using var api = await TestNode.StartAsync(db, o => o.RunWorker = false);
        var start = await api.Runtime.StartAsync("k", TestRequests.Create(idempotent: false));
        await api.Runtime.SignalAsync(start.Workflow.Id, new SignalRequest("approve", "a", "alice@example.com"));
        await using var dataSource = NpgsqlDataSource.Create(db);
        var (claimed, _) = await new TaskQueue(dataSource).ClaimAsync(10, "crashed-before-start", [TaskKinds.Execute], TimeSpan.FromMilliseconds(200), CancellationToken.None);
        Assert.Single(claimed);
        await Db.WaitUntilAsync(
            async () => await Db.ScalarAsync<bool>(db, "SELECT bool_and(lease_until < now()) FROM wf_task WHERE kind = 'execute'"),
            TimeSpan.FromSeconds(10), "the lease expires");

        var calls = 0;
        await using var healthy = await TestNode.StartAsync(db, invoke: (_, _) =>
        {
            Interlocked.Increment(ref calls);
            return Task.FromResult(ActivityResult.Success());
        });
        await healthy.Reaper.ReapOnceAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var done = await healthy.Runtime.AwaitAsync(start.Workflow.Id, cancellationToken: cts.Token);

        // Still "approved" when the lease expired: the call never went out, so running it once now is correct.
        Assert.Equal(ApprovalStatus.Completed, done.State.Status);
        Assert.Equal(1, calls);
    }
}
