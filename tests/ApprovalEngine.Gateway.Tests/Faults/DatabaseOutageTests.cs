using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Tests.Approvals;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Storage;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using Npgsql;
using Xunit.Abstractions;
using static ApprovalEngine.Gateway.Tests.Faults.FaultKit;

namespace ApprovalEngine.Gateway.Tests.Faults;

/// <summary>
/// PostgreSQL stopped for a few seconds and started again under a real gateway process while agents call allowed and
/// gated tools, with each <c>policy.onDatabaseUnavailable</c>. The cluster is this test's own (never the shared test
/// cluster), on its own data directory and port.
/// </summary>
public sealed class DatabaseOutageTests(ITestOutputHelper output)
{
    private const int Agents = 3;
    private const int MaxCallsPerAgent = 2_000;
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MinOutage = TimeSpan.FromSeconds(2);

    [Theory]
    [InlineData("deny")]
    [InlineData("allow")]
    public async Task CallTool_DatabaseRestartedUnderLoad_GatedRefusedAllowedAsConfiguredRecoversWithoutRestartAndEveryAnsweredCallIsAudited(string onDatabaseUnavailable)
    {
        var deny = onDatabaseUnavailable == "deny";
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        var directory = Directory.CreateTempSubdirectory("ae-db-outage-").FullName;
        var options = new LocalPostgresOptions { DataDirectory = Path.Combine(directory, "pgdata"), Fsync = false };
        var server = await LocalPostgres.StartAsync(options, ct: ct);
        options = options with { Port = server.Port };
        GatewayProcess? gateway = null;
        var agents = new List<OutageAgent>();
        try
        {
            var key = ApiKeys.Generate();
            var configPath = await WriteConfigAsync(directory, key, onDatabaseUnavailable);
            gateway = await GatewayProcess.StartAsync(
                "A", configPath, server.ConnectionString, new Dictionary<string, string> { ["ApprovalEngine:Runtime:PollInterval"] = "00:00:00.200" }, output, ct);
            for (var i = 0; i < Agents; i++)
            {
                agents.Add(new OutageAgent($"a{i}", await AgentClients.ConnectAsync(gateway.McpUrl("work"), key, "fx__echo", ct), Path.Combine(directory, "gated.log")));
            }

            using var stopAgents = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var loops = agents.Select(a => Task.Run(() => a.RunAsync(MaxCallsPerAgent, stopAgents.Token), CancellationToken.None)).ToList();
            await UntilAsync(() => agents.All(a => a.Count(Answer.Success) >= 3 && a.Count(Answer.Pending) >= 1), "every agent has calls answered", gateway, ct);

            // The outage: a fast shutdown of the postmaster by its pid; the data directory and port stay.
            var pid = gateway.Pid;
            await server.DisposeAsync();
            var down = Stopwatch.GetTimestamp();
            await UntilAsync(
                () => Since(down) >= MinOutage && agents.Sum(a => a.Count(Answer.ApprovalRefusal)) >= Agents
                    && (deny ? agents.Sum(a => a.Count(Answer.DatabaseRefusal)) : agents.Count(a => a.FirstSuccessStartedAfter(down) is not null)) >= Agents,
                deny ? "both kinds of refusal were seen during the outage" : "gated calls were refused and allowed ones ran during the outage", gateway, ct);
            using var probe = gateway.CreateHttpClient();
            var readyzDown = await ReadyzAsync(probe, ct);
            var restarting = Stopwatch.GetTimestamp();
            server = await LocalPostgres.StartAsync(options, ct: ct);
            var back = Stopwatch.GetTimestamp();

            await UntilAsync(() => agents.All(a => a.FirstSuccessStartedAfter(back) is not null), "every agent has a call succeed again", gateway, ct);
            var readyzBack = await WaitForReadyzAsync(probe, r => r["status"]?.GetValue<string>() == "ready", "ready", ct);
            await stopAgents.CancelAsync();
            await Task.WhenAll(loops);

            var answers = agents.SelectMany(a => a.Answers).ToList();
            var during = answers.Where(a => a.Started > down && a.Finished < restarting).ToList();
            var recovery = agents.Select(a => Stopwatch.GetElapsedTime(back, a.FirstSuccessStartedAfter(back)!.Finished)).Min();
            var answered = answers.Where(a => a.Kind is Answer.Success or Answer.Pending).ToList();
            await using var dataSource = NpgsqlDataSource.Create(server.ConnectionString);

            // Held records (allow) are written shortly after the database returns; a missing one never arrives.
            var audited = await AuditedMarkersAsync(dataSource);
            while (answered.Any(a => !audited.ContainsKey(a.Marker)) && !ct.IsCancellationRequested)
            {
                await Task.Delay(100, CancellationToken.None);
                audited = await AuditedMarkersAsync(dataSource);
            }

            var chains = new List<AuditStreamVerification>();
            await foreach (var stream in new ToolCallAuditVerifier(dataSource).VerifyAsync(null, null, ct))
            {
                chains.Add(stream);
            }

            TestFigures.Report($"Faults: database outage (onDatabaseUnavailable: {onDatabaseUnavailable})", string.Create(CultureInfo.InvariantCulture,
                $"{Agents} agents, {answers.Count} calls; {during.Count} calls during the {Ms(Stopwatch.GetElapsedTime(down, restarting))} outage: {during.Count(a => a.Kind == Answer.Success)} ran (records held), {during.Count(a => a.Kind == Answer.DatabaseRefusal)} refused (database unavailable), {during.Count(a => a.Kind == Answer.ApprovalRefusal)} refused (approval could not be started); {answers.Count(a => a.Kind == Answer.Withheld)} results withheld (audit failed before the outage was known); first success {Ms(recovery)} after PostgreSQL was back"), output);

            Assert.Empty(answers.Where(a => a.Kind == Answer.Other).Select(a => $"{a.Tool}: {a.Text}"));
            Assert.Empty(during.Where(a => a.Kind == Answer.Pending).Select(a => $"{a.Tool} {a.Marker}: {a.Text}"));
            Assert.Contains(during, a => a.Kind == Answer.ApprovalRefusal);
            if (deny)
            {
                Assert.Empty(during.Where(a => a.Kind == Answer.Success).Select(a => $"{a.Tool} {a.Marker}: {a.Text}"));
                Assert.Contains(during, a => a.Kind == Answer.DatabaseRefusal);
            }
            else
            {
                Assert.Contains(during, a => a.Kind == Answer.Success);
                Assert.DoesNotContain(answers, a => a.Kind is Answer.DatabaseRefusal or Answer.Withheld);
            }

            // Only calls already past the check when the first audit failure marked the database down: one per agent.
            Assert.InRange(answers.Count(a => a.Kind == Answer.Withheld), 0, Agents);
            Assert.Equal("unavailable", readyzDown["status"]?.GetValue<string>());
            Assert.Equal("ready", readyzBack["status"]!.GetValue<string>());
            Assert.False(gateway.HasExited, gateway.Describe());
            Assert.Equal(pid, gateway.Pid);
            Assert.Empty(answered.Where(a => audited.GetValueOrDefault(a.Marker) != 1).Select(a => $"{a.Marker} ({a.Kind}) audited {audited.GetValueOrDefault(a.Marker)} times"));
            Assert.NotEmpty(chains);
            Assert.All(chains, c => Assert.True(c.Valid, string.Join("; ", c.Problems.Select(p => p.Detail))));
            Assert.False(File.Exists(Path.Combine(directory, "gated.log")), "a gated call ran without approval");
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.Client.DisposeAsync();
            }

            if (gateway is not null)
            {
                await gateway.DisposeAsync();
            }

            await server.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<string> WriteConfigAsync(string directory, string key, string onDatabaseUnavailable)
    {
        var path = Path.Combine(directory, "gateway.yaml");
        await File.WriteAllTextAsync(path, $$"""
            upstreams:
            {{FixtureUpstream("fx", "30s")}}
            agents:
              agent:
                owner: owner@example.com
                keys: ["{{ApiKeys.Hash(key)}}"]
            bundles:
              work:
                upstreams: [fx]
                agents: [agent]
            approvers:
              ops:
                members: [ops@example.com]
            policy:
              default: read-only
              approvers: [ops]
              approval: {timeout: 1h, hold: 200ms}
              onDatabaseUnavailable: {{onDatabaseUnavailable}}
            """);
        return path;
    }

    /// <summary>How many audit records carry each marker (echo's text, slow-write's line).</summary>
    private static async Task<Dictionary<string, int>> AuditedMarkersAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT coalesce(arguments->>'text', arguments->>'line'), count(*) FROM tool_call_audit GROUP BY 1");
        await using var reader = await command.ExecuteReaderAsync();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            if (!reader.IsDBNull(0))
            {
                counts[reader.GetString(0)] = (int)reader.GetInt64(1);
            }
        }

        return counts;
    }

    private static async Task UntilAsync(Func<bool> condition, string what, GatewayProcess gateway, CancellationToken ct)
    {
        while (!condition())
        {
            if (ct.IsCancellationRequested)
            {
                Assert.Fail($"Timed out waiting until {what}.\n{gateway.Describe()}");
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }
}

internal enum Answer
{
    Success,
    Pending,
    DatabaseRefusal,
    ApprovalRefusal,
    Withheld,
    Other,
}

internal sealed record AnsweredCall(string Tool, string Marker, Answer Kind, string Text, long Started, long Finished);

/// <summary>One agent calling an allowed tool and a gated one in turn, each call with a unique marker, until stopped.</summary>
internal sealed class OutageAgent(string name, McpClient client, string gatedLog)
{
    private readonly List<AnsweredCall> answers = [];

    public McpClient Client => client;

    public IReadOnlyList<AnsweredCall> Answers
    {
        get
        {
            lock (answers)
            {
                return [.. answers];
            }
        }
    }

    public int Count(Answer kind)
    {
        lock (answers)
        {
            return answers.Count(a => a.Kind == kind);
        }
    }

    public AnsweredCall? FirstSuccessStartedAfter(long timestamp)
    {
        lock (answers)
        {
            return answers.FirstOrDefault(a => a.Kind == Answer.Success && a.Started > timestamp);
        }
    }

    public async Task RunAsync(int maxCalls, CancellationToken stop)
    {
        for (var n = 0; n < maxCalls && !stop.IsCancellationRequested; n++)
        {
            var marker = $"outage-{name}-{n}";
            var (tool, arguments) = n % 2 == 0
                ? ("fx__echo", new Dictionary<string, object?> { ["text"] = marker })
                : ("fx__slow-write", new Dictionary<string, object?> { ["path"] = gatedLog, ["line"] = marker });
            var started = Stopwatch.GetTimestamp();
            Answer kind;
            string text;
            try
            {
                // Not the stop token: a call once sent is seen to its answer, so that every answer is accounted for.
                var result = await client.CallToolAsync(tool, arguments, cancellationToken: CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                text = Text(result);
                kind = Classify(result.IsError == true, text, marker);
            }
            catch (McpException e)
            {
                text = e.Message;
                kind = e.Message.Contains("could not record this call in its audit", StringComparison.Ordinal) ? Answer.Withheld : Answer.Other;
            }

            lock (answers)
            {
                answers.Add(new AnsweredCall(tool, marker, kind, text, started, Stopwatch.GetTimestamp()));
            }

            await Task.Delay(20, CancellationToken.None);
        }
    }

    private static Answer Classify(bool isError, string text, string marker) => (isError, text) switch
    {
        (false, _) when text == marker => Answer.Success,
        (true, _) when text.StartsWith("Pending approval ", StringComparison.Ordinal) => Answer.Pending,
        (true, _) when text.StartsWith("The gateway's database is unavailable; the call to 'fx__echo' was not run", StringComparison.Ordinal) => Answer.DatabaseRefusal,
        (true, _) when text.StartsWith("'fx__slow-write' needs approval", StringComparison.Ordinal) && text.Contains("the approval could not be started, so the call was not run", StringComparison.Ordinal) => Answer.ApprovalRefusal,
        _ => Answer.Other,
    };
}
