using System.Text.Json;
using ApprovalEngine.Gateway.Verification;
using ApprovalEngine.Testing;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests;

public sealed class VerifyCommandTests
{
    [Fact]
    public async Task Run_CleanChains_ExitsZeroWithSummary()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("gw_verify_clean");
        await StartWorkflowsAsync(connectionString, 2);

        var (exitCode, output, error) = await VerifyAsync(connectionString);

        Assert.Equal(VerifyCommand.ExitValid, exitCode);
        Assert.Equal("2 chains verified, 0 broken\n0 audit streams verified (0 records), 0 broken", output.Trim());
        Assert.Equal("", error);
    }

    [Fact]
    public async Task Run_EmptyDatabase_ExitsZero()
    {
        var (exitCode, output, _) = await VerifyAsync(await TestPostgres.CreateDatabaseAsync("gw_verify_empty"));

        Assert.Equal(VerifyCommand.ExitValid, exitCode);
        Assert.Equal("0 chains verified, 0 broken\n0 audit streams verified (0 records), 0 broken", output.Trim());
    }

    [Fact]
    public async Task Run_TamperedChain_ExitsOneAndNamesTheWorkflow()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("gw_verify_tampered");
        var ids = await StartWorkflowsAsync(connectionString, 2);
        await TamperAsync(connectionString, ids[0]);

        var (exitCode, output, _) = await VerifyAsync(connectionString);

        Assert.Equal(VerifyCommand.ExitBroken, exitCode);
        var lines = output.Trim().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.StartsWith($"BROKEN {ids[0]}: event 1 was altered", lines[0]);
        Assert.Equal("2 chains verified, 1 broken", lines[1]);
        Assert.Equal("0 audit streams verified (0 records), 0 broken", lines[2]);
        Assert.DoesNotContain(ids[1].ToString(), output);
    }

    [Fact]
    public async Task Run_TamperedChainAsJson_WritesOneObjectPerBrokenChainThenSummary()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("gw_verify_json");
        var ids = await StartWorkflowsAsync(connectionString, 1);
        await TamperAsync(connectionString, ids[0]);

        var (exitCode, output, _) = await VerifyAsync(connectionString, "--json");

        Assert.Equal(VerifyCommand.ExitBroken, exitCode);
        var lines = output.Trim().Split('\n');
        using var broken = JsonDocument.Parse(lines[0]);
        Assert.Equal(ids[0], broken.RootElement.GetProperty("workflowId").GetGuid());
        Assert.Equal(1, broken.RootElement.GetProperty("firstBadSeq").GetInt32());
        using var summary = JsonDocument.Parse(lines[1]);
        Assert.Equal(1, summary.RootElement.GetProperty("verified").GetInt32());
        Assert.Equal(1, summary.RootElement.GetProperty("broken").GetInt32());
    }

    [Fact]
    public async Task Run_RangeExcludingTheTamperedChain_ExitsZero()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("gw_verify_range");
        var ids = await StartWorkflowsAsync(connectionString, 1);
        await TamperAsync(connectionString, ids[0]);

        var (before, beforeOutput, _) = await VerifyAsync(connectionString, "--to", "2000-01-01");
        var (inRange, _, _) = await VerifyAsync(connectionString, "--from=2000-01-01T00:00:00Z");

        Assert.Equal(VerifyCommand.ExitValid, before);
        Assert.Equal("0 chains verified, 0 broken\n0 audit streams verified (0 records), 0 broken", beforeOutput.Trim());
        Assert.Equal(VerifyCommand.ExitBroken, inRange);
    }

    [Theory]
    [InlineData("--from", "yesterday", "--from: 'yesterday'")]
    [InlineData("--to", "2025-13-01", "--to: '2025-13-01'")]
    [InlineData("--from", null, "--from needs a value")]
    [InlineData("--bogus", null, "'--bogus'")]
    [InlineData("--json=yes", null, "'--json=yes'")]
    [InlineData("--from=2025-02-01", "--to=2025-01-01", "--from (2025-02-01T00:00:00.0000000+00:00) must be earlier than --to")]
    public async Task Run_BadArgument_ExitsTwoNamingIt(string first, string? second, string expected)
    {
        string[] args = second is null ? [first] : [first, second];

        // No database is needed to reject arguments; none is configured.
        var (exitCode, output, error) = await RunAsync(connectionString: null, args);

        Assert.Equal(VerifyCommand.ExitBadArguments, exitCode);
        Assert.Contains(expected, error);
        Assert.Equal("", output);
    }

    [Fact]
    public async Task Run_NoEmbeddedCluster_ExitsOneWithoutCreatingOne()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), $"ae-gw-none-{Guid.NewGuid():N}");

        var (exitCode, _, error) = await RunAsync(connectionString: null, [], ("ApprovalEngine:DataDirectory", dataDirectory));

        Assert.Equal(VerifyCommand.ExitBroken, exitCode);
        Assert.Contains($"no embedded database in {dataDirectory}", error);
        Assert.False(Directory.Exists(dataDirectory));
    }

    [Fact]
    public async Task Run_DatabaseWithoutSchema_ExitsOneSayingSo()
    {
        var (exitCode, _, error) = await VerifyAsync(await TestPostgres.CreateDatabaseAsync("gw_verify_noschema", migrate: false));

        Assert.Equal(VerifyCommand.ExitBroken, exitCode);
        Assert.Contains("no workflow history tables", error);
    }

    private static Task<(int ExitCode, string Output, string Error)> VerifyAsync(string connectionString, params string[] args) =>
        RunAsync(connectionString, args);

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(
        string? connectionString, string[] args, params (string Key, string Value)[] settings)
    {
        var values = settings.ToDictionary(s => s.Key, s => (string?)s.Value);
        if (connectionString is not null)
        {
            values["ConnectionStrings:ApprovalEngine"] = connectionString;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await VerifyCommand.RunAsync(args, configuration, output, error);
        return (exitCode, output.ToString().ReplaceLineEndings("\n"), error.ToString());
    }

    private static async Task<Guid[]> StartWorkflowsAsync(string connectionString, int count)
    {
        await using var node = await TestNode.StartAsync(connectionString);
        var ids = new Guid[count];
        for (var i = 0; i < count; i++)
        {
            var started = await node.Runtime.StartAsync($"verify-{i}", TestRequests.Create(arguments: $$"""{"path":"/tmp/{{i}}"}"""));
            ids[i] = started.Workflow.Id;
        }

        return ids;
    }

    // What an attacker with superuser rights could do: bypass the append-only trigger and rewrite an event.
    private static async Task TamperAsync(string connectionString, Guid workflowId)
    {
        await using var connection = new NpgsqlConnection(TestPostgres.SuperuserConnectionString(connectionString));
        await connection.OpenAsync();
        await using (var replica = new NpgsqlCommand("SET session_replication_role = replica", connection))
        {
            await replica.ExecuteNonQueryAsync();
        }

        await using var update = new NpgsqlCommand("UPDATE wf_event SET body = body || ' ' WHERE wf_id = $1 AND seq = 1", connection);
        update.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = workflowId });
        Assert.Equal(1, await update.ExecuteNonQueryAsync());
    }
}
