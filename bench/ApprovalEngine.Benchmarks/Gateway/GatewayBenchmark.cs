using System.Diagnostics;
using ApprovalEngine.Gateway.Agents;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>
/// tools/call straight to an upstream against the same call through the gateway, in one run: the upstream and the
/// gateway are child processes, the gateway audits into the benchmark's own PostgreSQL (default durability), and
/// every client is its own MCP session. Steps print as they go; a markdown summary closes the run.
/// </summary>
public static class GatewayBenchmark
{
    private const double RiseThreshold = 1.05;
    private static readonly TimeSpan ListedTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan WarmUpDuration = TimeSpan.FromSeconds(3);

    public static async Task<int> RunAsync(GatewaySettings settings, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var loadBefore = LoadAverage();

        // Exit 3 (the audit did not match) is a finding of a run that worked, not a failure to keep logs of.
        return await BenchWorkDirectory.RunAsync("gateway", work => RunAsync(settings, work, loadBefore, started, ct), exitCode => exitCode == 1, ct);
    }

    private static async Task<int> RunAsync(GatewaySettings settings, string work, string loadBefore, long started, CancellationToken ct)
    {
        await using var database = await BenchDatabase.OpenAsync(settings.ConnectionString, ct);
        var server = await database.DescribeAsync(ct);
        Console.WriteLine($"PostgreSQL {server.Version}, {database.Description}{(database.ClusterPid is { } pid ? $" (pid {pid})" : "")}: fsync={server.Fsync}, synchronous_commit={server.SynchronousCommit}");
        var gatewayDatabase = await database.CreateAsync("gateway", ct);

        var placement = settings.Cpus == CpuMode.Split ? CpuPlacement.Split() : CpuPlacement.Shared;
        await placement.PinSelfAsync(ct);
        await placement.PinDatabaseAsync(database.ClusterPid, ct);
        Console.WriteLine($"CPUs: {placement.Description}");
        await using var upstream = await Upstream.StartAsync(settings.Upstream, work, placement, ct);
        Console.WriteLine($"Upstream: {upstream.Description}; pid {upstream.Process.Pid}, {upstream.Endpoint}");
        await using var gateway = await GatewayProcess.StartAsync(
            upstream.Endpoint, gatewayDatabase, settings.GatewayEnvironment, work, "gateway", ApiKeys.Generate(), "", placement, ct);
        Console.WriteLine($"Gateway: pid {gateway.Process.Pid}, {gateway.Endpoint}, {settings.GatewayDescription}");

        if (placement.Check(upstream.Process.Pid, gateway.Process.Pid, database.ClusterPid) is { Length: > 0 } checkedCpus)
        {
            Console.WriteLine($"CPUs {checkedCpus}");
        }

        await using var probe = new DatabaseProbe(gatewayDatabase);
        await using var direct = new McpTarget("direct", upstream.Endpoint, bearer: null, upstream.Tool, upstream.Arguments);
        await using var proxied = new McpTarget("gateway", gateway.Endpoint, gateway.Key, GatewayProcess.ToolName(upstream.Tool), upstream.Arguments);
        var report = new GatewayReport(settings, server, database.Description, upstream) { LoadBefore = loadBefore, Cpus = placement.Description };
        try
        {
            await direct.WaitUntilListedAsync(ListedTimeout, ct);
            await proxied.WaitUntilListedAsync(ListedTimeout, ct);
            var runner = new SegmentRunner(new CpuMeter(upstream.Process, gateway.Process, database.ClusterPid), probe);

            await WarmUpAsync(settings, runner, direct, proxied, ct);
            await CompareAsync(settings, runner, direct, proxied, report, ct);
            await FindPeakAsync(settings, runner, direct, proxied, report, ct);
            await BreakDownAsync(settings, runner, direct, proxied, report, ct);

            GatewayReport.Heading("4", "Audit: one row per tools/call through the gateway");
            report.Audit = await probe.CountAuditAsync(proxied.Calls, ct);
            GatewayReport.Note(report.AuditVerdict());

            GatewayReport.Heading("5", "Reference: durable single-row commits on the same PostgreSQL");
            var rawDatabase = await database.CreateAsync("commit", ct);
            var many = settings.Clients.Max();
            report.CommitOne = await DatabaseProbe.RawCommitsAsync(rawDatabase, 1, settings.Warmup, settings.PeakDuration, ct);
            report.CommitMany = (many, await DatabaseProbe.RawCommitsAsync(rawDatabase, many, settings.Warmup, settings.PeakDuration, ct));
            GatewayReport.Note($"1 connection: {report.CommitOne.PerSecond:N0} commits/s, {report.CommitOne.Latency}");
            GatewayReport.Note($"{many} connections: {report.CommitMany.Value.Result.PerSecond:N0} commits/s, {report.CommitMany.Value.Result.Latency}");
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"\nThe gateway benchmark failed: {e}\n\n{gateway.Process.Tail()}\n\n{upstream.Process.Tail()}");
            return 1;
        }

        report.LoadAfter = LoadAverage();
        Console.WriteLine();
        Console.WriteLine(report.Summary(Stopwatch.GetElapsedTime(started)));
        return report.Audit?.Matches == true ? 0 : 3;
    }

    /// <summary>
    /// Step 0, unmeasured: enough calls on both paths, at one client and at the most clients of step 1, for tiered
    /// compilation to settle in all three .NET processes, so the first measured level is not the one that pays for it.
    /// </summary>
    private static async Task WarmUpAsync(GatewaySettings settings, SegmentRunner runner, McpTarget direct, McpTarget proxied, CancellationToken ct)
    {
        GatewayReport.Heading("0", Report.Invariant($"Warm-up, not measured ({WarmUpDuration.TotalSeconds:0} s per path and level)"));
        foreach (var clients in ((int[])[1, settings.Clients.Max()]).Distinct())
        {
            foreach (var target in (McpTarget[])[direct, proxied])
            {
                var segment = await runner.RunAsync(target, "tools/call", target.CallAsync, clients, TimeSpan.Zero, WarmUpDuration, ct);
                GatewayReport.Line(segment, "warm-up");
            }
        }
    }

    /// <summary>The 1-, 5- and 15-minute load averages: other work on the machine shows up here, and in every figure.</summary>
    private static string LoadAverage()
    {
        try
        {
            return string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>Step 1: each level, direct and through the gateway, <see cref="GatewaySettings.Rounds"/> times, the order alternating.</summary>
    private static async Task CompareAsync(GatewaySettings settings, SegmentRunner runner, McpTarget direct, McpTarget proxied, GatewayReport report, CancellationToken ct)
    {
        GatewayReport.Heading("1", Report.Invariant(
            $"tools/call, direct vs through the gateway ({settings.SegmentDuration.TotalSeconds:0.#} s per segment after {settings.Warmup.TotalSeconds:0.#} s warm-up, {settings.Rounds} round(s), order alternating)"));
        foreach (var clients in settings.Clients)
        {
            var (directSegments, gatewaySegments) = (new List<Segment>(), new List<Segment>());
            for (var round = 0; round < settings.Rounds; round++)
            {
                foreach (var target in round % 2 == 0 ? [direct, proxied] : (McpTarget[])[proxied, direct])
                {
                    var segment = await runner.RunAsync(target, "tools/call", target.CallAsync, clients, settings.Warmup, settings.SegmentDuration, ct);
                    (target == direct ? directSegments : gatewaySegments).Add(segment);
                    GatewayReport.Line(segment, $"round {round + 1}");
                }
            }

            report.Levels.Add(new Comparison(clients, new Pooled(directSegments), new Pooled(gatewaySegments)));
        }
    }

    /// <summary>Step 2: raise the concurrency until neither rate rises by 5% (both targets at each level, one round, shorter segments).</summary>
    private static async Task FindPeakAsync(GatewaySettings settings, SegmentRunner runner, McpTarget direct, McpTarget proxied, GatewayReport report, CancellationToken ct)
    {
        if (settings.Peak.Count == 0)
        {
            return;
        }

        GatewayReport.Heading("2", Report.Invariant($"Peak throughput: more clients until neither rate rises by 5% ({settings.PeakDuration.TotalSeconds:0.#} s per segment)"));
        var bestDirect = report.Levels.Select(l => l.Direct.PerSecond).DefaultIfEmpty(0).Max();
        var bestGateway = report.Levels.Select(l => l.Gateway.PerSecond).DefaultIfEmpty(0).Max();
        for (var i = 0; i < settings.Peak.Count; i++)
        {
            var clients = settings.Peak[i];
            Segment? directSegment = null;
            Segment? gatewaySegment = null;
            foreach (var target in i % 2 == 0 ? [direct, proxied] : (McpTarget[])[proxied, direct])
            {
                var segment = await runner.RunAsync(target, "tools/call", target.CallAsync, clients, settings.Warmup, settings.PeakDuration, ct);
                GatewayReport.Line(segment, "peak");
                if (target == direct)
                {
                    directSegment = segment;
                }
                else
                {
                    gatewaySegment = segment;
                }
            }

            report.PeakLevels.Add(new Comparison(clients, new Pooled([directSegment!]), new Pooled([gatewaySegment!])));
            var rose = directSegment!.Load.PerSecond > bestDirect * RiseThreshold || gatewaySegment!.Load.PerSecond > bestGateway * RiseThreshold;
            bestDirect = Math.Max(bestDirect, directSegment.Load.PerSecond);
            bestGateway = Math.Max(bestGateway, gatewaySegment!.Load.PerSecond);
            if (!rose)
            {
                GatewayReport.Note($"neither rate rose by 5% at {clients} clients: stopping");
                break;
            }
        }
    }

    /// <summary>
    /// Step 3, one client: requests the gateway answers itself (ping; tools/list from its catalog) against the same on
    /// the upstream, so the added latency splits into the agent-facing side and the proxy hop.
    /// </summary>
    private static async Task BreakDownAsync(GatewaySettings settings, SegmentRunner runner, McpTarget direct, McpTarget proxied, GatewayReport report, CancellationToken ct)
    {
        GatewayReport.Heading("3", Report.Invariant($"Where the time goes, 1 client ({settings.PeakDuration.TotalSeconds:0.#} s per segment)"));
        foreach (var (request, operation) in (List<(string, Func<McpTarget, Func<int, CancellationToken, Task<bool>>>)>)
                 [("ping", t => t.PingAsync), ("tools/list", t => t.ListToolsAsync), ("tools/call", t => t.CallAsync)])
        {
            var pair = new List<Segment>();
            foreach (var target in (McpTarget[])[direct, proxied])
            {
                var segment = await runner.RunAsync(target, request, operation(target), 1, settings.Warmup, settings.PeakDuration, ct);
                GatewayReport.Line(segment, request);
                pair.Add(segment);
            }

            report.Breakdown.Add((request, new Comparison(1, new Pooled([pair[0]]), new Pooled([pair[1]]))));
        }
    }
}

/// <summary>Direct and gateway figures at one concurrency.</summary>
public sealed record Comparison(int Clients, Pooled Direct, Pooled Gateway)
{
    public double AddedP50 => Gateway.Latency.P50 - Direct.Latency.P50;

    public double AddedP99 => Gateway.Latency.P99 - Direct.Latency.P99;

    public double Ratio => Gateway.PerSecond / Direct.PerSecond;
}
