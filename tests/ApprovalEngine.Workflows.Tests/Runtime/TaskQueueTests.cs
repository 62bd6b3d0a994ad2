using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ApprovalEngine.Workflows.Tests.Runtime;

public sealed class TaskQueueTests
{
    [Fact]
    public async Task RetryLater_BackoffIsExponentialWithJitterOnDatabaseClock()
    {
        var db = await TestPostgres.CreateDatabaseAsync(nameof(TaskQueueTests));
        await using var api = await TestNode.StartAsync(db, o => o.RunWorker = false);
        var id = (await api.Runtime.StartAsync("k", TestRequests.Create())).Workflow.Id;
        await using var dataSource = NpgsqlDataSource.Create(db);
        var queue = new TaskQueue(dataSource);
        var options = new ActivityOptions { BaseDelay = TimeSpan.FromSeconds(10), MaxDelay = TimeSpan.FromSeconds(25) };

        // attempt 1 → [5 s, 10 s), attempt 2 → [10 s, 20 s), attempt 3 → capped at 25 s → [12.5 s, 25 s)
        var expected = new[] { (5.0, 10.0), (10.0, 20.0), (12.5, 25.0) };
        foreach (var (low, high) in expected)
        {
            var (claimed, _) = await queue.ClaimAsync(1, "t", ["notify"], TimeSpan.FromSeconds(30), CancellationToken.None);
            var task = Assert.Single(claimed);
            Assert.True(await queue.RetryLaterAsync(task.Fence, "boom", options, CancellationToken.None));
            var delay = await Db.ScalarAsync<double>(db, "SELECT extract(epoch FROM run_at - now())::float8 FROM wf_task WHERE id = $1", task.Id);
            Assert.InRange(delay, low - 0.5, high);
            await Db.ExecuteAsync(db, "UPDATE wf_task SET run_at = now() WHERE id = $1", task.Id);
        }

        Assert.Equal("ready:3:boom", await Db.ScalarAsync<string>(db, "SELECT state || ':' || attempt || ':' || last_error FROM wf_task WHERE wf_id = $1 AND kind = 'notify'", id));
    }

    [Fact]
    public async Task Activity_FailsEveryAttempt_TaskDeadAfterMaxAttempts()
    {
        var db = await TestPostgres.CreateDatabaseAsync(nameof(TaskQueueTests));
        var probe = new FailingActivity();
        await using var node = await TestNode.StartAsync(db, services: s => s.AddSingleton<IActivity>(probe));
        var id = (await node.Runtime.StartAsync("k", TestRequests.Create())).Workflow.Id;
        await Db.ExecuteAsync(db, "INSERT INTO wf_task (wf_id, kind, dedup_key, at_most_once, max_attempts) VALUES ($1, 'probe', 'probe-1', false, 3)", id);

        await Db.WaitUntilAsync(
            async () => await Db.ScalarAsync<string>(db, "SELECT state FROM wf_task WHERE dedup_key = 'probe-1'") == "dead",
            TimeSpan.FromSeconds(20), "the probe task is dead");

        Assert.Equal(3, probe.Calls);
        Assert.Equal("3:still broken", await Db.ScalarAsync<string>(db, "SELECT attempt || ':' || last_error FROM wf_task WHERE dedup_key = 'probe-1'"));
    }

    [Fact]
    public async Task RetryLater_WithRetryAfter_RunsAfterThatDelayInsteadOfBackoff()
    {
        var db = await TestPostgres.CreateDatabaseAsync(nameof(TaskQueueTests));
        await using var api = await TestNode.StartAsync(db, o => o.RunWorker = false);
        await api.Runtime.StartAsync("k", TestRequests.Create());
        await using var dataSource = NpgsqlDataSource.Create(db);
        var queue = new TaskQueue(dataSource);
        var options = new ActivityOptions { BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(20) };

        var (claimed, _) = await queue.ClaimAsync(1, "t", ["notify"], TimeSpan.FromSeconds(30), CancellationToken.None);
        var task = Assert.Single(claimed);
        Assert.True(await queue.RetryLaterAsync(task.Fence, "429", options, TimeSpan.FromSeconds(42), CancellationToken.None));
        var delay = await Db.ScalarAsync<double>(db, "SELECT extract(epoch FROM run_at - now())::float8 FROM wf_task WHERE id = $1", task.Id);

        Assert.InRange(delay, 41.5, 42.0);
    }

    [Fact]
    public async Task Activity_AsksToRetryAfter_NextAttemptWaitsThatLong()
    {
        var db = await TestPostgres.CreateDatabaseAsync(nameof(TaskQueueTests));
        var probe = new ThrottledActivity();
        await using var node = await TestNode.StartAsync(db, o => o.PollInterval = TimeSpan.FromMilliseconds(50), services: s => s.AddSingleton<IActivity>(probe));
        var id = (await node.Runtime.StartAsync("k", TestRequests.Create())).Workflow.Id;
        await Db.ExecuteAsync(db, "INSERT INTO wf_task (wf_id, kind, dedup_key, at_most_once, max_attempts) VALUES ($1, 'throttled', 'throttled-1', false, 5)", id);

        await Db.WaitUntilAsync(
            async () => await Db.ScalarAsync<string>(db, "SELECT state FROM wf_task WHERE dedup_key = 'throttled-1'") == "done",
            TimeSpan.FromSeconds(20), "the throttled task is done");

        var attempts = probe.Attempts;
        Assert.Equal(2, attempts.Count);
        // The kind's own backoff would retry after 10-20 ms; the activity asked for 1.5 s.
        Assert.InRange((attempts[1] - attempts[0]).TotalSeconds, 1.45, 5);
    }

    private sealed class ThrottledActivity : IActivity
    {
        private readonly List<DateTimeOffset> _attempts = [];

        public List<DateTimeOffset> Attempts
        {
            get
            {
                lock (_attempts)
                {
                    return [.. _attempts];
                }
            }
        }

        public string Kind => "throttled";

        public ActivityOptions Options { get; } = new() { MaxAttempts = 5, BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(20) };

        public Task<ActivityResult> RunAsync(ActivityContext context, CancellationToken cancellationToken)
        {
            lock (_attempts)
            {
                _attempts.Add(DateTimeOffset.UtcNow);
            }

            return Task.FromResult(context.Attempt == 1
                ? ActivityResult.RetryLater("429 Too Many Requests", TimeSpan.FromSeconds(1.5))
                : ActivityResult.Success());
        }
    }

    private sealed class FailingActivity : IActivity
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public string Kind => "probe";

        public ActivityOptions Options { get; } = new() { MaxAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(50) };

        public Task<ActivityResult> RunAsync(ActivityContext context, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            return Task.FromResult(ActivityResult.Failure("still broken", retryable: true));
        }
    }
}
