using System.Text.Json;
using ApprovalEngine.Gateway.Verification;
using Microsoft.Extensions.Configuration;
using static ApprovalEngine.Gateway.Tests.Audit.AuditFixtures;

namespace ApprovalEngine.Gateway.Tests.Audit;

/// <summary>The <c>verify</c> command over the tool-call audit streams.</summary>
public sealed class VerifyCommandAuditTests
{
    [Fact]
    public async Task Run_CleanAuditStreams_ExitsZeroWithAuditSummary()
    {
        var (connectionString, dataSource, _) = await ToolCallAuditTamperTests.ThreeStreamsAsync("audit_verify_clean");
        await dataSource.DisposeAsync();

        var (exitCode, output, error) = await RunAsync(connectionString);

        Assert.Equal(VerifyCommand.ExitValid, exitCode);
        Assert.Equal("0 chains verified, 0 broken\n3 audit streams verified (15 records), 0 broken", output.Trim());
        Assert.Equal("", error);
    }

    [Fact]
    public async Task Run_TamperedAuditRecords_ExitsOneNamingStreamAndSeq()
    {
        var (connectionString, dataSource, streams) = await ToolCallAuditTamperTests.ThreeStreamsAsync("audit_verify_broken");
        await dataSource.DisposeAsync();
        await TamperAsync(connectionString, "UPDATE tool_call_audit SET decision = 'allow' WHERE stream_id = $1 AND seq = 2", streams[0]);
        await TamperAsync(connectionString, "DELETE FROM tool_call_audit WHERE stream_id = $1 AND seq = 4", streams[2]);

        var (exitCode, output, _) = await RunAsync(connectionString);

        Assert.Equal(VerifyCommand.ExitBroken, exitCode);
        var lines = output.Trim().Split('\n');
        Assert.Equal(4, lines.Length);
        // Streams are reported in stream id order, which is random.
        Assert.Single(lines[..2], l => l.StartsWith($"BROKEN audit stream {streams[0]} seq 2: record 2 was altered", StringComparison.Ordinal));
        Assert.Single(lines[..2], l => l.StartsWith($"BROKEN audit stream {streams[2]} seq 4: record 4 is missing", StringComparison.Ordinal));
        Assert.Equal("0 chains verified, 0 broken", lines[2]);
        Assert.Equal("3 audit streams verified (14 records), 2 broken", lines[3]);
        Assert.DoesNotContain(streams[1].ToString(), output);
    }

    [Fact]
    public async Task Run_TamperedAuditRecordAsJson_WritesTheStreamThenASummaryWithAnAuditSection()
    {
        var (connectionString, dataSource, streams) = await ToolCallAuditTamperTests.ThreeStreamsAsync("audit_verify_json");
        await dataSource.DisposeAsync();
        await TamperAsync(connectionString, "UPDATE tool_call_audit SET tool = 'rm' WHERE stream_id = $1 AND seq = 5", streams[1]);

        var (exitCode, output, _) = await RunAsync(connectionString, "--json");

        Assert.Equal(VerifyCommand.ExitBroken, exitCode);
        var lines = output.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        using var broken = JsonDocument.Parse(lines[0]);
        var stream = broken.RootElement.GetProperty("auditStream");
        Assert.Equal(streams[1], stream.GetProperty("streamId").GetGuid());
        Assert.False(stream.GetProperty("valid").GetBoolean());
        var problem = Assert.Single(stream.GetProperty("problems").EnumerateArray());
        Assert.Equal(5, problem.GetProperty("seq").GetInt64());
        Assert.Equal("modified", problem.GetProperty("kind").GetString());
        using var summary = JsonDocument.Parse(lines[1]);
        Assert.Equal(0, summary.RootElement.GetProperty("broken").GetInt32());
        var audit = summary.RootElement.GetProperty("audit");
        Assert.Equal((3, 15, 1), (audit.GetProperty("streams").GetInt32(), audit.GetProperty("records").GetInt32(), audit.GetProperty("broken").GetInt32()));
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string connectionString, params string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:ApprovalEngine"] = connectionString })
            .Build();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await VerifyCommand.RunAsync(args, configuration, output, error);
        return (exitCode, output.ToString().ReplaceLineEndings("\n"), error.ToString());
    }
}
