using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Workflows.Tests.Runtime;

public sealed class HistoryTests : IAsyncLifetime
{
    private string _db = "";
    private TestNode _node = null!;

    public async Task InitializeAsync()
    {
        _db = await TestPostgres.CreateDatabaseAsync(nameof(HistoryTests));
        _node = await TestNode.StartAsync(_db, o => o.RunWorker = false);
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Verify_RowAlteredBehindTriggersBack_Detected()
    {
        var victim = await _node.Runtime.StartAsync("victim", TestRequests.Create());
        var bystander = await _node.Runtime.StartAsync("bystander", TestRequests.Create());
        await _node.Runtime.SignalAsync(victim.Workflow.Id, new SignalRequest("approve", "a", "alice@example.com"));
        Assert.True((await _node.Runtime.VerifyAsync(victim.Workflow.Id)).Valid);

        // A superuser bypasses the append-only trigger and rewrites who approved.
        await using (var connection = new NpgsqlConnection(TestPostgres.SuperuserConnectionString(_db)))
        {
            await connection.OpenAsync();
            await using var cmd = new NpgsqlCommand(
                """
                SET session_replication_role = replica;
                UPDATE wf_event SET body = replace(body, 'alice@example.com', 'mallory@example.com') WHERE wf_id = $1 AND type = 'approved';
                RESET session_replication_role;
                """.Replace("$1", $"'{victim.Workflow.Id}'", StringComparison.Ordinal), connection);
            await cmd.ExecuteNonQueryAsync();
        }

        var result = await _node.Runtime.VerifyAsync(victim.Workflow.Id);
        var all = new List<ChainVerification>();
        await foreach (var chain in _node.Runtime.VerifyAllAsync())
        {
            all.Add(chain);
        }

        Assert.False(result.Valid);
        Assert.Equal(3, result.FirstBadSeq);
        Assert.Contains("altered", result.Problem, StringComparison.Ordinal);
        Assert.Equal(2, all.Count);
        Assert.False(all.Single(c => c.WorkflowId == victim.Workflow.Id).Valid);
        Assert.True(all.Single(c => c.WorkflowId == bystander.Workflow.Id).Valid);
    }

    [Fact]
    public async Task Verify_EventDeletedBehindTriggersBack_Detected()
    {
        var start = await _node.Runtime.StartAsync("deleted", TestRequests.Create());
        await _node.Runtime.SignalAsync(start.Workflow.Id, new SignalRequest("deny", "d", "alice@example.com"));
        await using (var connection = new NpgsqlConnection(TestPostgres.SuperuserConnectionString(_db)))
        {
            await connection.OpenAsync();
            await using var cmd = new NpgsqlCommand(
                $"SET session_replication_role = replica; DELETE FROM wf_event WHERE wf_id = '{start.Workflow.Id}' AND seq = 2; RESET session_replication_role;", connection);
            await cmd.ExecuteNonQueryAsync();
        }

        var result = await _node.Runtime.VerifyAsync(start.Workflow.Id);

        Assert.False(result.Valid);
        Assert.Equal(2, result.FirstBadSeq);
    }

    [Fact]
    public async Task History_UpdateWithoutBypass_RejectedByTrigger()
    {
        var start = await _node.Runtime.StartAsync("immutable", TestRequests.Create());

        var e = await Assert.ThrowsAsync<PostgresException>(() => Db.ExecuteAsync(_db, "UPDATE wf_event SET actor = 'x' WHERE wf_id = $1", start.Workflow.Id));

        Assert.Equal(SqlStates.AppendOnly, e.SqlState);
    }

    [Fact]
    public async Task Hash_ComputedInCSharp_MatchesDatabaseTrigger()
    {
        var start = await _node.Runtime.StartAsync("hash", TestRequests.Create());

        var first = Assert.Single(await _node.Runtime.GetHistoryAsync(start.Workflow.Id));

        Assert.Equal(HistoryChain.Genesis(start.Workflow.Id), first.PrevHash);
        Assert.Equal(HistoryChain.ComputeHash(first.PrevHash, first.WorkflowId, 1, first.Type, first.Body, first.Actor, first.RecordedAt), first.Hash);
    }

    [Fact]
    public async Task Query_ByStatusAgentToolApproverAndTime_WithCursorPaging()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await _node.Runtime.StartAsync($"q{i}", TestRequests.Create(tool: i % 2 == 0 ? "write_file" : "move_file"))).Workflow.Id);
        }

        await _node.Runtime.SignalAsync(ids[0], new SignalRequest("approve", "a", "bob@example.com"));
        await _node.Runtime.SignalAsync(ids[1], new SignalRequest("deny", "d", "carol@example.com"));

        var pending = await _node.Runtime.QueryAsync(new WorkflowQuery { Status = ApprovalStatus.Pending });
        var byBob = await _node.Runtime.QueryAsync(new WorkflowQuery { Approver = "bob@example.com" });
        var moves = await _node.Runtime.QueryAsync(new WorkflowQuery { Tool = "move_file", AgentId = "agent-1" });
        var none = await _node.Runtime.QueryAsync(new WorkflowQuery { CreatedFrom = DateTimeOffset.UtcNow.AddHours(1) });
        var page1 = await _node.Runtime.QueryAsync(new WorkflowQuery { Limit = 2 });
        var page2 = await _node.Runtime.QueryAsync(new WorkflowQuery { Limit = 2, Cursor = page1.NextCursor });
        var page3 = await _node.Runtime.QueryAsync(new WorkflowQuery { Limit = 2, Cursor = page2.NextCursor });

        Assert.Equal(ids.Skip(2), pending.Items.Select(s => s.Id));
        Assert.Equal([ids[0]], byBob.Items.Select(s => s.Id));
        Assert.Equal([ids[1], ids[3]], moves.Items.Select(s => s.Id));
        Assert.Empty(none.Items);
        Assert.Equal(ids, page1.Items.Concat(page2.Items).Concat(page3.Items).Select(s => s.Id));
        Assert.Null(page3.NextCursor);
        await Assert.ThrowsAsync<ArgumentException>(() => _node.Runtime.QueryAsync(new WorkflowQuery { Cursor = "garbage" }));
    }
}
