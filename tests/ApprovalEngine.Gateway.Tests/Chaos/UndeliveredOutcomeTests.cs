using ApprovalEngine.Gateway.Tests.Approvals;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Chaos;

/// <summary>
/// The window the chaos runs found: a held call saw its approval's outcome, and its answer never reached the agent (the
/// node died, or the audit record could not be written and the answer was withheld). The outcome must stay for the
/// agent's next identical call; before the fix the call's business key was released first, so that call asked anew.
/// </summary>
public sealed class UndeliveredOutcomeTests(GatedGateway peers) : IClassFixture<GatedGateway>
{
    // Makes the audit of the held call's final answer fail, as a node dying between the outcome and the answer would
    // leave it: CallAudit then withholds the answer. Only rows of this test's file, only final answers.
    private const string FailAuditSql = """
        CREATE FUNCTION chaos_fail_answer_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit withheld by the test';
        END
        $$;
        CREATE TRIGGER chaos_fail_answer_audit BEFORE INSERT ON tool_call_audit FOR EACH ROW
            WHEN (NEW.approval_id IS NOT NULL AND NEW.outcome <> 'pending' AND NEW.arguments::text LIKE '%undelivered-answer%')
            EXECUTE FUNCTION chaos_fail_answer_audit();
        """;

    private const string RestoreAuditSql = """
        DROP TRIGGER chaos_fail_answer_audit ON tool_call_audit;
        DROP FUNCTION chaos_fail_answer_audit();
        """;

    [Fact]
    public async Task CallTool_AnswerNotDeliveredAfterTheApprovalCompleted_TheSameCallAgainGetsTheResultWithoutANewApproval()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var database = NpgsqlDataSource.Create(peers.Gateway.ConnectionString);
        await using var client = await peers.ConnectAsync(ct);
        var target = Path.Combine(peers.Sandbox, "undelivered-answer.txt");
        var arguments = new Dictionary<string, object?> { ["path"] = target, ["content"] = "once" };

        await ExecuteAsync(database, FailAuditSql);
        Exception? lost;
        try
        {
            var held = client.CallToolAsync("fs__write_file", arguments, cancellationToken: ct).AsTask();
            var pending = await peers.PendingAsync("undelivered-answer", ct);
            var (status, _) = await peers.DecideAsync(pending.Id, "approve");
            Assert.Equal(200, status);
            lost = await Record.ExceptionAsync(() => held);
        }
        finally
        {
            await ExecuteAsync(database, RestoreAuditSql);
        }

        var again = await client.CallToolAsync("fs__write_file", arguments, cancellationToken: ct);
        var runtime = peers.Gateway.Get<WorkflowRuntime>();
        var workflows = (await runtime.QueryAsync(new WorkflowQuery { AgentId = "agent", Tool = "write_file" }, ct)).Items
            .Where(w => w.State.Request.Arguments.GetRawText().Contains("undelivered-answer", StringComparison.Ordinal)).ToList();
        var started = (await runtime.GetHistoryAsync(Assert.Single(workflows).Id, ct)).Count(h => h.Type == "execution_started");

        Assert.IsType<McpProtocolException>(lost);
        Assert.Contains("could not record this call in its audit", lost.Message, StringComparison.Ordinal);
        Assert.NotEqual(true, again.IsError);
        Assert.Contains("Successfully wrote", Assert.IsType<TextContentBlock>(Assert.Single(again.Content)).Text, StringComparison.Ordinal);
        Assert.Equal("once", await File.ReadAllTextAsync(target, ct));
        Assert.Equal(1, started);
    }

    private static async Task ExecuteAsync(NpgsqlDataSource database, string sql)
    {
        await using var command = database.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
