using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Api;

/// <summary>Tests that measure this process's memory: they run alone, after the parallel ones, so nothing else allocates meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuredAlone
{
    public const string Name = "measured alone";
}

/// <summary>
/// The export of 100,000 audit events over HTTP from the real gateway (in this process), with the live managed heap
/// sampled while it streams: the growth must not follow the number of events.
/// </summary>
[Collection(MeasuredAlone.Name)]
public sealed class ExportScaleTests(ITestOutputHelper output)
{
    private const int Events = 100_000;
    private static readonly DateTimeOffset Base = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // One event per millisecond from Base: g % 10 is 0-5 a tool call, 6-8 a workflow event, 9 a refusal.
    private const string GenerateSql = """
        ALTER TABLE wf_event DISABLE TRIGGER wf_event_chain;
        INSERT INTO wf_instance (id, kind, business_key, key_active, state, version, data, agent_id, bundle, upstream, tool, deadline_at, created_at)
        SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(w), 12, '0'))::uuid, 'approval', 'bulk-' || w, false, 'completed', 30, '{}'::jsonb,
            'bulk-agent', 'bulk', 'up', 'tool', @base, @base
        FROM generate_series(1, @n / 100 + 1) w;
        INSERT INTO tool_call_audit (id, stream_id, seq, at, duration_us, agent_id, bundle, upstream, tool, tool_name, arguments_digest, arguments,
            decision, outcome, prev_hash, hash)
        SELECT gen_random_uuid(), '00000000-0000-4000-8000-00000000b01c', row_number() OVER (ORDER BY g), @base + g * interval '1 ms', 1500,
            'bulk-agent', 'bulk', 'up', 'tool', 'up__tool', 'sha256:00', json_build_object('path', '/srv/file-' || g, 'content', repeat('x', 200)),
            'allow', 'ok', '\x00', '\x00'
        FROM generate_series(0, @n - 1) g WHERE g % 10 < 6;
        INSERT INTO wf_event (wf_id, seq, type, body, actor, recorded_at, prev_hash, hash)
        SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(k / 30 + 1), 12, '0'))::uuid, k % 30 + 1, 'vote', '{"n":' || k || '}', 'ops@example.com',
            @base + g * interval '1 ms', '\x00', '\x00'
        FROM (SELECT g, (g / 10) * 3 + (g % 10 - 6) AS k FROM generate_series(0, @n - 1) g WHERE g % 10 BETWEEN 6 AND 8) e;
        ALTER TABLE wf_event ENABLE TRIGGER wf_event_chain;
        INSERT INTO human_refusal (at, reason, status, method, path, email, required_roles, detail)
        SELECT @base + g * interval '1 ms', 'not_permitted', 403, 'GET', '/api/approvals', 'bulk@example.com', '{auditor}', 'bulk refusal ' || g
        FROM generate_series(0, @n - 1) g WHERE g % 10 = 9;
        ANALYZE;
        """;

    [Fact]
    public async Task Export_100kEvents_StreamsEveryLineWithFlatMemory()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var token = UserTokens.Generate();
        await using var gateway = await McpGateway.StartAsync($$"""
            upstreams: {}
            users:
              audit@example.com: {roles: [auditor], tokens: ["{{UserTokens.Hash(token)}}"]}
            """);
        await GenerateAsync(gateway.ConnectionString);

        // A full export first: the server's buffer pools and the JIT reach their working size on it (a loaded CI
        // machine showed 10 MB of such one-time growth), so the measured runs compare steady states.
        await ExportAsync(gateway, token, Events, timeout.Token);
        var small = await ExportAsync(gateway, token, 20_000, timeout.Token);
        var first = await ExportAsync(gateway, token, Events, timeout.Token);
        var second = await ExportAsync(gateway, token, Events, timeout.Token);

        // The heap is the whole test process's: in a full run, other tests' leftovers (a host's background loops)
        // can add a few MB during one export. Memory that follows the export shows in every run, so the smaller
        // growth of two runs is the export's own.
        var large = first.Growth <= second.Growth ? first : second;

        TestFigures.Report(
            "export 100k events",
            string.Create(CultureInfo.InvariantCulture,
                $"peak live managed heap {Mb(large.PeakLive):0.0} MB, growth {Mb(large.Growth):0.0} MB (20k events: {Mb(small.Growth):0.0} MB), peak working set {Mb(large.PeakWorkingSet):0} MB, {large.Lines / large.Elapsed.TotalSeconds:0} events/s"),
            output);
        Assert.Equal((20_000, 12_000, 6_000, 2_000), (small.Lines, small.Kinds["tool_call"], small.Kinds["workflow_event"], small.Kinds["refusal"]));
        Assert.Equal((Events, 60_000, 30_000, 10_000), (large.Lines, large.Kinds["tool_call"], large.Kinds["workflow_event"], large.Kinds["refusal"]));

        // Five times the events must not mean (anywhere near) five times the memory; below 16 MB the growth is noise.
        // Buffering the export instead of streaming it grows the heap by about 140 MB for 100k events, far above.
        var floor = 16L * 1024 * 1024;
        Assert.True(large.Growth < 2.5 * Math.Max(small.Growth, floor),
            $"memory grew with the export: {Mb(small.Growth):0.0} MB for 20k events, {Mb(large.Growth):0.0} MB for 100k");
    }

    private static async Task GenerateAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(TestPostgres.SuperuserConnectionString(connectionString));
        await connection.OpenAsync();
        var sql = GenerateSql
            .Replace("@base", "timestamptz '" + Base.ToString("yyyy-MM-dd HH:mm:ssK", CultureInfo.InvariantCulture) + "'", StringComparison.Ordinal)
            .Replace("@n", Events.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 300 };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Streams the export of the first <paramref name="events"/> events and parses every line, sampling the live heap meanwhile.</summary>
    private static async Task<Run> ExportAsync(McpGateway gateway, string token, int events, CancellationToken ct)
    {
        var to = Base.AddMilliseconds(events).ToString("yyyy-MM-dd'T'HH:mm:ss.fffK", CultureInfo.InvariantCulture);
        using var client = new HttpClient { BaseAddress = new Uri(gateway.BaseUrl + "/"), Timeout = TimeSpan.FromMinutes(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/audit/export?from=2030-01-01&to={Uri.EscapeDataString(to)}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var baseline = LiveHeap();
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(() => SampleAsync(sampling.Token), CancellationToken.None);
        var clock = Stopwatch.StartNew();
        var kinds = new Dictionary<string, int>(StringComparer.Ordinal) { ["tool_call"] = 0, ["workflow_event"] = 0, ["refusal"] = 0 };
        var lines = 0;
        var last = "";
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct))
        {
            Assert.Equal(200, (int)response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct), Encoding.UTF8);
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                var at = root.GetProperty("at").GetString()!;
                Assert.True(string.CompareOrdinal(last, at) <= 0, $"line {lines + 1} ({at}) is earlier than the one before ({last})");
                last = at;
                kinds[root.GetProperty("event_type").GetString()!]++;
                lines++;
            }
        }

        clock.Stop();
        await sampling.CancelAsync();
        var (peakLive, peakWorkingSet) = await sampler;
        return new Run(lines, kinds, clock.Elapsed, peakLive, Math.Max(0, peakLive - baseline), peakWorkingSet);
    }

    private static async Task<(long PeakLive, long PeakWorkingSet)> SampleAsync(CancellationToken ct)
    {
        long peak = 0, workingSet = 0;
        using var process = Process.GetCurrentProcess();
        while (!ct.IsCancellationRequested)
        {
            peak = Math.Max(peak, LiveHeap());
            process.Refresh();
            workingSet = Math.Max(workingSet, process.WorkingSet64);
            try
            {
                await Task.Delay(100, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return (Math.Max(peak, LiveHeap()), workingSet);
    }

    // What is still referenced: garbage would make the figure depend on when the GC last ran, not on what is kept.
    private static long LiveHeap()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    private static double Mb(long bytes) => bytes / (1024.0 * 1024.0);

    private sealed record Run(int Lines, Dictionary<string, int> Kinds, TimeSpan Elapsed, long PeakLive, long Growth, long PeakWorkingSet);
}
