using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Workflows.Tests.Runtime;

public sealed class SignalTests : IAsyncLifetime
{
    private string _db = "";
    private TestNode _node = null!;

    public async Task InitializeAsync()
    {
        _db = await TestPostgres.CreateDatabaseAsync(nameof(SignalTests));
        _node = await TestNode.StartAsync(_db, o => o.RunWorker = false);
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private async Task<Guid> StartAsync(ApprovalRequest? request = null) =>
        (await _node.Runtime.StartAsync(Guid.NewGuid().ToString(), request ?? TestRequests.Create())).Workflow.Id;

    [Fact]
    public async Task Signal_FaultAfterStateUpdate_LeavesNoTaskEventOrSignal()
    {
        var id = await StartAsync();
        var before = await Db.FootprintAsync(_db, id);
        _node.Runtime.Store.BatchInterceptor = batch =>
        {
            // Fail right after the instance update, before events and tasks.
            var update = batch.BatchCommands.Cast<NpgsqlBatchCommand>().ToList().FindIndex(c => c.CommandText.TrimStart().StartsWith("UPDATE wf_instance", StringComparison.Ordinal));
            Assert.True(update >= 0);
            batch.BatchCommands.Insert(update + 1, new NpgsqlBatchCommand("SELECT 1/0"));
        };

        var e = await Assert.ThrowsAsync<PostgresException>(() => _node.Runtime.SignalAsync(id, new SignalRequest("approve", "k1", "alice@example.com")));

        Assert.Equal(PostgresErrorCodes.DivisionByZero, e.SqlState);
        Assert.Equal(before, await Db.FootprintAsync(_db, id));
        Assert.Equal(0L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_task WHERE wf_id = $1 AND kind = 'execute'", id));
        Assert.Equal(ApprovalStatus.Pending, (await _node.Runtime.GetAsync(id))!.State.Status);

        _node.Runtime.Store.BatchInterceptor = null;
        var outcome = await _node.Runtime.SignalAsync(id, new SignalRequest("approve", "k1", "alice@example.com"));
        Assert.True(outcome.Accepted);
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_task WHERE wf_id = $1 AND kind = 'execute'", id));
    }

    [Fact]
    public async Task Signal_FiftyConcurrentIdenticalApprovals_OneDecisionFiftyIdenticalAnswers()
    {
        var id = await StartAsync();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            Task.Run(() => _node.Runtime.SignalAsync(id, new SignalRequest("approve", "click-1", "alice@example.com")))));

        Assert.All(outcomes, o =>
        {
            Assert.True(o.Accepted);
            Assert.Equal(ApprovalStatus.Approved, o.Status);
            Assert.Equal(["alice@example.com"], o.DecidedBy);
            Assert.Equal(outcomes[0].Message, o.Message);
        });
        Assert.Equal(1, outcomes.Count(o => !o.Replayed));
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_event WHERE wf_id = $1 AND type = 'approved'", id));
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_task WHERE wf_id = $1 AND kind = 'execute'", id));
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_signal WHERE wf_id = $1", id));
    }

    [Fact]
    public async Task Signal_TwentyApproversRacing_OneDecisionLosersToldWhoWon()
    {
        var approvers = Enumerable.Range(0, 20).Select(i => $"approver{i}@example.com").ToArray();
        var id = await StartAsync(TestRequests.Create(approvers: approvers));

        var outcomes = await Task.WhenAll(approvers.Select(a =>
            Task.Run(() => _node.Runtime.SignalAsync(id, new SignalRequest("approve", $"key-{a}", a)))));

        var winner = Assert.Single(outcomes, o => o.Accepted);
        var winnerName = Assert.Single(winner.DecidedBy);
        var losers = outcomes.Where(o => !o.Accepted).ToList();
        Assert.Equal(19, losers.Count);
        Assert.All(losers, o =>
        {
            Assert.Equal(SignalError.AlreadyDecided, o.Error);
            Assert.Equal([winnerName], o.DecidedBy);
            Assert.Contains(winnerName, o.Message, StringComparison.Ordinal);
        });
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_event WHERE wf_id = $1 AND type = 'approved'", id));
    }

    [Fact]
    public async Task Signal_OneMillisecondAfterDeadline_RejectedBeforeTimerFires()
    {
        var id = await StartAsync(TestRequests.Create(timeout: TimeSpan.FromMilliseconds(400)));
        var deadline = (await _node.Runtime.GetAsync(id))!.State.DeadlineAt;
        await Db.WaitUntilAsync(
            async () => await Db.ScalarAsync<bool>(_db, "SELECT clock_timestamp() >= $1 + interval '1 millisecond'", deadline),
            TimeSpan.FromSeconds(10), "the database clock passes the deadline");
        var before = await Db.FootprintAsync(_db, id);

        var outcome = await _node.Runtime.SignalAsync(id, new SignalRequest("approve", "late", "alice@example.com"));

        Assert.False(outcome.Accepted);
        Assert.Equal(SignalError.DeadlinePassed, outcome.Error);
        var after = await Db.FootprintAsync(_db, id);
        Assert.Equal((before.Events, before.Tasks, before.Version), (after.Events, after.Tasks, after.Version));
        // No worker runs on this node, so the deadline timer has not fired: the state is still pending.
        Assert.Equal(ApprovalStatus.Pending, (await _node.Runtime.GetAsync(id))!.State.Status);
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_task WHERE wf_id = $1 AND kind = 'deadline' AND state = 'ready'", id));

        await using var worker = await TestNode.StartAsync(_db);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var expired = await worker.Runtime.AwaitAsync(id, cancellationToken: cts.Token);
        Assert.Equal(ApprovalStatus.Expired, expired.State.Status);
        Assert.Contains("expired", expired.State.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signal_BeforeDeadline_Accepted()
    {
        var id = await StartAsync(TestRequests.Create(timeout: TimeSpan.FromSeconds(30)));

        var outcome = await _node.Runtime.SignalAsync(id, new SignalRequest("deny", "d1", "bob@example.com", TestNode.Json("""{"reason":"not today"}""")));

        Assert.True(outcome.Accepted);
        Assert.Equal(ApprovalStatus.Denied, outcome.Status);
        Assert.Equal("Denied by bob@example.com: not today.", outcome.Message);
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_task WHERE wf_id = $1 AND kind = 'deadline' AND state = 'cancelled'", id));
    }

    public static TheoryData<string, string?, SignalError> BadSignals => new()
    {
        { "approve", "[1,2]", SignalError.MalformedPayload },
        { "approve", """{"unexpected":1}""", SignalError.MalformedPayload },
        { "approve", """{"comment":5}""", SignalError.MalformedPayload },
        { "approve", """{"editedArguments":"x","editedArgumentsDigest":"d"}""", SignalError.MalformedPayload },
        { "deny", """{"reason":123}""", SignalError.MalformedPayload },
        { "explode", null, SignalError.UnknownSignal },
    };

    [Theory]
    [MemberData(nameof(BadSignals))]
    public async Task Signal_BadInput_TypedErrorAndNoWrite(string name, string? payload, SignalError expected)
    {
        var id = await StartAsync();
        var before = await Db.FootprintAsync(_db, id);

        var outcome = await _node.Runtime.SignalAsync(id, new SignalRequest(name, "k", "alice@example.com", payload is null ? null : TestNode.Json(payload)));

        Assert.False(outcome.Accepted);
        Assert.Equal(expected, outcome.Error);
        Assert.False(string.IsNullOrWhiteSpace(outcome.Message));
        Assert.Equal(before, await Db.FootprintAsync(_db, id));
    }

    [Fact]
    public async Task Signal_UnknownWorkflow_TypedErrorAndNoWrite()
    {
        var id = Guid.NewGuid();

        var outcome = await _node.Runtime.SignalAsync(id, new SignalRequest("approve", "k", "alice@example.com"));

        Assert.Equal(SignalError.UnknownWorkflow, outcome.Error);
        Assert.Contains(id.ToString(), outcome.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_signal"));
    }

    [Fact]
    public async Task Signal_OnFinishedWorkflow_AlreadyDecidedStoredOnce()
    {
        var id = await StartAsync();
        await _node.Runtime.SignalAsync(id, new SignalRequest("cancel", "c1", "agent-1"));
        var before = await Db.FootprintAsync(_db, id);

        var outcome = await _node.Runtime.SignalAsync(id, new SignalRequest("approve", "a1", "alice@example.com"));
        var again = await _node.Runtime.SignalAsync(id, new SignalRequest("approve", "a1", "alice@example.com"));

        Assert.Equal(SignalError.AlreadyDecided, outcome.Error);
        Assert.Equal(ApprovalStatus.Cancelled, outcome.Status);
        Assert.True(again.Replayed);
        Assert.Equal(outcome.Message, again.Message);
        var after = await Db.FootprintAsync(_db, id);
        Assert.Equal((before.Events, before.Tasks, before.Version), (after.Events, after.Tasks, after.Version));
    }

    [Fact]
    public async Task Signal_KeyReusedForAnotherSignal_Refused()
    {
        var id = await StartAsync(TestRequests.Create(quorum: 2));
        await _node.Runtime.SignalAsync(id, new SignalRequest("approve", "same", "alice@example.com"));

        var outcome = await _node.Runtime.SignalAsync(id, new SignalRequest("deny", "same", "alice@example.com"));

        Assert.Equal(SignalError.IdempotencyKeyReused, outcome.Error);
        Assert.Equal(ApprovalStatus.Pending, (await _node.Runtime.GetAsync(id))!.State.Status);
    }

    [Fact]
    public async Task Start_InvalidRequest_ThrowsNamingFieldAndWritesNothing()
    {
        var e = await Assert.ThrowsAsync<InvalidWorkflowRequestException>(() =>
            _node.Runtime.StartAsync("bad", TestRequests.Create(quorum: 5)));

        Assert.Contains("quorum", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_instance"));
    }

    [Fact]
    public async Task Start_SameBusinessKey_JoinsExistingWorkflow()
    {
        var first = await _node.Runtime.StartAsync("agent-1/default/write_file/abc", TestRequests.Create());
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            Task.Run(() => _node.Runtime.StartAsync("agent-1/default/write_file/abc", TestRequests.Create()))));

        Assert.True(first.Created);
        Assert.All(concurrent, r => Assert.Equal((first.Workflow.Id, false), (r.Workflow.Id, r.Created)));
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM wf_instance"));
    }

    [Fact]
    public async Task ReleaseBusinessKey_FinalWorkflow_NextStartCreatesNewOne()
    {
        var first = await _node.Runtime.StartAsync("key", TestRequests.Create());
        Assert.False(await _node.Runtime.ReleaseBusinessKeyAsync(first.Workflow.Id));
        await _node.Runtime.SignalAsync(first.Workflow.Id, new SignalRequest("deny", "d", "alice@example.com"));

        Assert.True(await _node.Runtime.ReleaseBusinessKeyAsync(first.Workflow.Id));
        var second = await _node.Runtime.StartAsync("key", TestRequests.Create());

        Assert.True(second.Created);
        Assert.NotEqual(first.Workflow.Id, second.Workflow.Id);
    }

    [Fact]
    public async Task Signal_PayloadIsStoredWithOutcome()
    {
        var id = await StartAsync();

        await _node.Runtime.SignalAsync(id, new SignalRequest("deny", "d", "alice@example.com", TestNode.Json("""{"reason":"no"}""")));

        var stored = await Db.ScalarAsync<string>(_db, "SELECT payload::text || '|' || (outcome->>'message') FROM wf_signal WHERE wf_id = $1", id);
        Assert.Equal("""{"reason": "no"}|Denied by alice@example.com: no.""", stored);
    }
}
