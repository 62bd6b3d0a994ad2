using System.Collections.Concurrent;
using System.Text.Json;
using ApprovalEngine.Activities;
using ApprovalEngine.Notifiers;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalEngine.Workflows.Tests.Runtime;

public sealed class ExecutionTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<ToolInvocation> _invocations = new();
    private readonly RecordingNotifier _notifier = new();
    private string _db = "";

    public async Task InitializeAsync() => _db = await TestPostgres.CreateDatabaseAsync(nameof(ExecutionTests));

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<TestNode> NodeAsync(Func<ToolInvocation, ActivityResult>? behave = null, Action<WorkflowRuntimeOptions>? configure = null) =>
        TestNode.StartAsync(
            _db,
            configure,
            (call, _) =>
            {
                _invocations.Enqueue(call);
                return Task.FromResult(behave?.Invoke(call) ?? ActivityResult.Success(TestNode.Json("""{"content":[{"type":"text","text":"written"}]}""")));
            },
            s => s.AddSingleton<IApprovalNotifier>(_notifier));

    private static CancellationToken Within(int seconds) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Approve_WorkerRunsCallOnce_CompletedWithResultAndFullHistory()
    {
        await using var node = await NodeAsync();
        var start = await node.Runtime.StartAsync("k", TestRequests.Create());

        await node.Runtime.SignalAsync(start.Workflow.Id, new SignalRequest("approve", "a", "alice@example.com"));
        var done = await node.Runtime.AwaitAsync(start.Workflow.Id, cancellationToken: Within(20));

        Assert.Equal(ApprovalStatus.Completed, done.State.Status);
        Assert.Equal("written", done.State.Result!.Value.GetProperty("content")[0].GetProperty("text").GetString());
        var call = Assert.Single(_invocations);
        Assert.Equal(("filesystem", "write_file", $"{start.Workflow.Id:N}:execute"), (call.Upstream, call.Tool, call.IdempotencyKey));
        var history = await node.Runtime.GetHistoryAsync(start.Workflow.Id);
        Assert.Equal(["requested", "vote_recorded", "approved", "execution_started", "execution_succeeded"], history.Select(h => h.Type));
        Assert.Equal(Enumerable.Range(1, 5), history.Select(h => h.Seq));
        Assert.Equal(5, done.Version);
        Assert.True((await node.Runtime.VerifyAsync(start.Workflow.Id)).Valid);
    }

    [Fact]
    public async Task Approve_WithEditedArguments_EditedArgumentsRun()
    {
        await using var node = await NodeAsync();
        var request = TestRequests.Create() with { AllowEditedArguments = true };
        var start = await node.Runtime.StartAsync("edit", request);
        var payload = TestNode.Json("""{"editedArguments":{"path":"/tmp/safe","content":"hello"},"editedArgumentsDigest":"sha256:edited"}""");

        var outcome = await node.Runtime.SignalAsync(start.Workflow.Id, new SignalRequest("approve", "a", "alice@example.com", payload));
        await node.Runtime.AwaitAsync(start.Workflow.Id, cancellationToken: Within(20));

        Assert.True(outcome.Accepted);
        Assert.Equal("/tmp/safe", Assert.Single(_invocations).Arguments.GetProperty("path").GetString());
        var approved = (await node.Runtime.GetHistoryAsync(start.Workflow.Id)).Single(h => h.Type == "approved");
        Assert.Contains("sha256:edited", approved.Body, StringComparison.Ordinal);
        Assert.Contains(request.ArgumentsDigest, approved.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_DefiniteFailure_FailedWithoutRetry()
    {
        await using var node = await NodeAsync(_ => ActivityResult.Failure("upstream said no", retryable: false));
        var start = await node.Runtime.StartAsync("f", TestRequests.Create(idempotent: true));

        await node.Runtime.SignalAsync(start.Workflow.Id, new SignalRequest("approve", "a", "alice@example.com"));
        var done = await node.Runtime.AwaitAsync(start.Workflow.Id, cancellationToken: Within(20));

        Assert.Equal(ApprovalStatus.Failed, done.State.Status);
        Assert.Equal("upstream said no", done.State.Error);
        Assert.Single(_invocations);
    }

    [Fact]
    public async Task Execute_IdempotentToolRetryableFailure_RetriedWithBackoffThenCompleted()
    {
        var calls = 0;
        await using var node = await NodeAsync(_ => Interlocked.Increment(ref calls) < 3
            ? ActivityResult.Failure("connection refused", retryable: true)
            : ActivityResult.Success());
        var start = await node.Runtime.StartAsync("r", TestRequests.Create(idempotent: true));

        await node.Runtime.SignalAsync(start.Workflow.Id, new SignalRequest("approve", "a", "alice@example.com"));
        var done = await node.Runtime.AwaitAsync(start.Workflow.Id, cancellationToken: Within(30));

        Assert.Equal(ApprovalStatus.Completed, done.State.Status);
        Assert.Equal(3, calls);
        var task = await Db.ScalarAsync<string>(_db, "SELECT state || ':' || attempt FROM wf_task WHERE wf_id = $1 AND kind = 'execute'", start.Workflow.Id);
        Assert.Equal("done:3", task);
    }

    [Fact]
    public async Task Execute_AtMostOnceToolUnknownOutcome_InDoubtNotRetried()
    {
        await using var node = await NodeAsync(_ => ActivityResult.Unknown("timeout after the request was sent"));
        var start = await node.Runtime.StartAsync("u", TestRequests.Create(idempotent: false));

        await node.Runtime.SignalAsync(start.Workflow.Id, new SignalRequest("approve", "a", "alice@example.com"));
        var done = await node.Runtime.AwaitAsync(start.Workflow.Id, cancellationToken: Within(20));
        await Task.Delay(500);

        Assert.Equal(ApprovalStatus.InDoubt, done.State.Status);
        Assert.Single(_invocations);
        Assert.Equal("dead", await Db.ScalarAsync<string>(_db, "SELECT state FROM wf_task WHERE wf_id = $1 AND kind = 'execute'", start.Workflow.Id));
    }

    [Fact]
    public async Task Notify_EveryStateChange_ReachesNotifier()
    {
        await using var node = await NodeAsync();
        var start = await node.Runtime.StartAsync("n", TestRequests.Create());

        await node.Runtime.SignalAsync(start.Workflow.Id, new SignalRequest("approve", "a", "alice@example.com"));
        await node.Runtime.AwaitAsync(start.Workflow.Id, cancellationToken: Within(20));
        // One notify task per change. They run concurrently and each shows the state current when it ran, with
        // that state's version, so a notifier can tell a stale card from a newer one.
        await Db.WaitUntilAsync(() => Task.FromResult(_notifier.Statuses(start.Workflow.Id).Count >= 3), TimeSpan.FromSeconds(10), "three cards are sent");
        await Task.Delay(300);

        var notices = _notifier.Notices.Where(n => n.ApprovalId == start.Workflow.Id).ToList();
        Assert.Equal(3, notices.Count);
        var statusAtVersion = new Dictionary<int, string> { [1] = "pending", [3] = "approved", [4] = "executing", [5] = "completed" };
        Assert.All(notices, n => Assert.Equal(statusAtVersion[n.Version], n.Status));
        Assert.Equal("completed", notices.MaxBy(n => n.Version)!.Status);
        Assert.All(notices, n => Assert.Equal(("agent-1", "ops", 1), (n.AgentId, n.ApproverGroup, n.Quorum)));
    }

    [Fact]
    public async Task Notify_NotifierFails_RetriedUntilDelivered()
    {
        _notifier.FailuresLeft = 2;
        await using var node = await NodeAsync(configure: o => o.PollInterval = TimeSpan.FromMilliseconds(100));
        var start = await node.Runtime.StartAsync("nf", TestRequests.Create());

        await Db.WaitUntilAsync(() => Task.FromResult(_notifier.Statuses(start.Workflow.Id).Contains("pending")), TimeSpan.FromSeconds(15), "the card is delivered after retries");

        Assert.Equal(3, await Db.ScalarAsync<int>(_db, "SELECT attempt FROM wf_task WHERE wf_id = $1 AND kind = 'notify'", start.Workflow.Id));
    }

    [Fact]
    public async Task Deadline_WithEscalation_EscalatesThenExpiresOnDatabaseClock()
    {
        await using var node = await NodeAsync();
        var request = TestRequests.Create(
            timeout: TimeSpan.FromMilliseconds(300),
            escalateTo: new ApproverStage { Group = "leads", Approvers = ["lead@example.com"], Timeout = TimeSpan.FromMilliseconds(300) });
        var start = await node.Runtime.StartAsync("esc", request);

        var escalated = await node.Runtime.AwaitAsync(start.Workflow.Id, s => s.State.Status != ApprovalStatus.Pending, Within(20));
        var expired = await node.Runtime.AwaitAsync(start.Workflow.Id, cancellationToken: Within(20));

        Assert.Equal((ApprovalStatus.Escalated, 1), (escalated.State.Status, escalated.State.Stage));
        Assert.Equal(ApprovalStatus.Expired, expired.State.Status);
        Assert.Equal(["requested", "escalated", "expired"], (await node.Runtime.GetHistoryAsync(start.Workflow.Id)).Select(h => h.Type));
    }

    private sealed class RecordingNotifier : IApprovalNotifier
    {
        private int _failuresLeft;

        public ConcurrentQueue<ApprovalNotice> Notices { get; } = new();

        public int FailuresLeft
        {
            get => Volatile.Read(ref _failuresLeft);
            set => Volatile.Write(ref _failuresLeft, value);
        }

        public string Name => "recording";

        public List<string> Statuses(Guid id) => [.. Notices.Where(n => n.ApprovalId == id).Select(n => n.Status)];

        public Task<NotificationResult> NotifyAsync(ApprovalNotice notice, CancellationToken cancellationToken)
        {
            if (Interlocked.Decrement(ref _failuresLeft) >= 0)
            {
                return Task.FromResult(NotificationResult.Fail("chat API returned 503"));
            }

            Notices.Enqueue(notice);
            return Task.FromResult(NotificationResult.Ok);
        }
    }
}
