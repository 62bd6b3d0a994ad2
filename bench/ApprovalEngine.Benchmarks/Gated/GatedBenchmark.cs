using System.Diagnostics;
using ApprovalEngine.Benchmarks.Gateway;

namespace ApprovalEngine.Benchmarks.Gated;

/// <summary>
/// Gated calls through real gateway processes: how long a held call takes to return once a person decides (on the
/// node that holds it, and on another node of the same database), how many call → approve → result cycles per
/// second the gateway sustains, and what holding many calls at once costs in memory, database rows and idle work.
/// Steps print as they go; a markdown summary closes the run.
/// </summary>
public static class GatedBenchmark
{
    private static readonly TimeSpan ListedTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SampleTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SampleBudget = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ReferenceDuration = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan WarmUpDuration = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(GatedSettings settings, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        return await BenchWorkDirectory.RunAsync("gated", work => RunAsync(settings, work, started, ct), exitCode => exitCode != 0, ct);
    }

    private static async Task<int> RunAsync(GatedSettings settings, string work, long started, CancellationToken ct)
    {
        var report = new GatedReport(settings) { LoadBefore = GatedReport.LoadAverage() };
        await using var database = await BenchDatabase.OpenAsync(settings.ConnectionString, ct);
        report.Server = await database.DescribeAsync(ct);
        report.DatabaseDescription = database.Description;
        Console.WriteLine($"PostgreSQL {report.Server.Version}, {database.Description}{(database.ClusterPid is { } pid ? $" (pid {pid})" : "")}: fsync={report.Server.Fsync}, synchronous_commit={report.Server.SynchronousCommit}");
        var gatewayDatabase = await database.CreateAsync("gated", ct);

        await using var cluster = await GatedCluster.StartAsync(gatewayDatabase, settings.GatewayEnvironment, work, ct);
        Console.WriteLine($"Upstream: pid {cluster.Upstream.Process.Pid}, {cluster.Upstream.Endpoint}");
        Console.WriteLine($"Gateway A (holds the calls): pid {cluster.A.Process.Pid}, {cluster.A.BaseUrl}; gateway B: pid {cluster.B.Process.Pid}, {cluster.B.BaseUrl}; one database");
        await using var tables = new GatedDatabase(gatewayDatabase);
        await using var queue = new QueueProbe(gatewayDatabase);
        using var approver = new Approver(cluster.ApproverToken);
        try
        {
            await using (var direct = new McpTarget("direct", cluster.Upstream.Endpoint, bearer: null, cluster.Upstream.Tool, cluster.Upstream.Arguments))
            await using (var ungated = new McpTarget("gateway", cluster.A.Endpoint, cluster.A.Key, cluster.Tool, cluster.Upstream.Arguments))
            await using (var gated = new McpTarget("gated", cluster.A.Endpoint, cluster.A.Key, cluster.Tool, cluster.Upstream.Arguments))
            {
                await direct.WaitUntilListedAsync(ListedTimeout, ct);
                await ungated.WaitUntilListedAsync(ListedTimeout, ct);
                var calls = new HeldCalls(gated);
                await WarmUpAsync(settings, cluster, calls, gated, approver, ct);
                await ReferenceAsync(settings, database, direct, ungated, report, ct);
                (report.SameNode, report.CrossNode) = await DecisionLatencyAsync(settings, calls, approver, cluster, queue, ct);
                await EndToEndAsync(settings, cluster, calls, gated, approver, database.ClusterPid, report, ct);
            }

            // The sessions above are closed (DELETE) before the memory readings, so none goes away in between.
            report.Hold = await HoldManyAsync(settings, cluster, approver, tables, database.ClusterPid, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"\nThe gated benchmark failed: {e}\n\n{cluster.Tails()}");
            return 1;
        }

        report.LoadAfter = GatedReport.LoadAverage();
        Console.WriteLine();
        Console.WriteLine(report.Summary(Stopwatch.GetElapsedTime(started)));
        return 0;
    }

    /// <summary>Step 1, one client: a tools/call straight to the upstream, the same call through the gateway ungated, and a durable single-row commit.</summary>
    private static async Task ReferenceAsync(GatedSettings settings, BenchDatabase database, McpTarget direct, McpTarget ungated, GatedReport report, CancellationToken ct)
    {
        GatedReport.Heading("1", Report.Invariant($"Reference, same run ({ReferenceDuration.TotalSeconds:0} s each after {settings.Warmup.TotalSeconds:0} s warm-up)"));
        foreach (var target in (McpTarget[])[direct, ungated])
        {
            await Load.RunAsync(1, settings.Warmup, target.CallAsync, ct);
            var load = await Load.RunAsync(1, ReferenceDuration, target.CallAsync, ct);
            GatedReport.Note($"{(target == direct ? "tools/call, direct to the upstream" : "tools/call through gateway A, not gated"),-44} {load.Latency}");
            if (target == direct)
            {
                report.Direct = load;
            }
            else
            {
                report.Ungated = load;
            }
        }

        var raw = await database.CreateAsync("commit", ct);
        report.CommitOne = await DatabaseProbe.RawCommitsAsync(raw, 1, settings.Warmup, ReferenceDuration, ct);
        report.CommitMany = await DatabaseProbe.RawCommitsAsync(raw, settings.Clients, settings.Warmup, ReferenceDuration, ct);
        GatedReport.Note(Report.Invariant($"{"durable single-row commit, 1 connection",-44} {report.CommitOne.Latency}, {report.CommitOne.PerSecond:N0}/s"));
        GatedReport.Note(Report.Invariant($"{$"durable single-row commits, {settings.Clients} connections",-44} {report.CommitMany.PerSecond:N0}/s"));
    }

    /// <summary>
    /// Unmeasured: call → approve → result in a closed loop, decided on A by half the clients and on B by the others,
    /// so that tiered compilation has settled in both gateways before the first sample (the first gated calls of a
    /// process run code that is not compiled for speed yet).
    /// </summary>
    private static async Task WarmUpAsync(GatedSettings settings, GatedCluster cluster, HeldCalls calls, McpTarget gated, Approver approver, CancellationToken ct)
    {
        GatedReport.Heading("0", Report.Invariant($"Warm-up, not measured: {settings.Clients} clients, call → approve (on A or B) → result, {WarmUpDuration.TotalSeconds:0} s"));
        await gated.EnsureClientsAsync(settings.Clients, ct);
        var load = await Load.RunAsync(settings.Clients, WarmUpDuration, async (client, token) =>
        {
            var held = await calls.HoldAsync(client, token);
            await HeldCalls.DecideAsync(held, approver, client % 2 == 0 ? cluster.A.BaseUrl : cluster.B.BaseUrl, Approver.Approve, token);
            return true;
        }, ct);
        GatedReport.Note(Report.Invariant($"{load.Operations:N0} approvals"));
    }

    /// <summary>
    /// Step 2: sequential samples, each on a quiet queue (as a person's decision, seconds after the request, would
    /// find it): hold a call on A, send approve to A (same node) or to B (across nodes), alternating so that both
    /// see the same conditions, and time until the held call returns.
    /// </summary>
    private static async Task<(DecisionFigures SameNode, DecisionFigures CrossNode)> DecisionLatencyAsync(
        GatedSettings settings, HeldCalls calls, Approver approver, GatedCluster cluster, QueueProbe queue, CancellationToken ct)
    {
        GatedReport.Heading("2", Report.Invariant(
            $"Decision → result: held on A, approved on A or on B in turn ({settings.Samples} samples each after {settings.WarmupSamples} unrecorded, sequential)"));
        var samples = new[] { new List<DecisionTiming>(settings.Samples), new List<DecisionTiming>(settings.Samples) };
        var begun = Stopwatch.GetTimestamp();
        for (var i = 0; i < 2 * (settings.WarmupSamples + settings.Samples) && Stopwatch.GetElapsedTime(begun) < SampleBudget; i++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(SampleTimeout);
            var node = i % 2 == 0 ? cluster.A : cluster.B;
            var held = await calls.HoldAsync(0, timeout.Token);
            await queue.WaitUntilIdleAsync(timeout.Token);
            var timing = await HeldCalls.DecideAsync(held, approver, node.BaseUrl, Approver.Approve, timeout.Token);
            await queue.WaitUntilIdleAsync(timeout.Token);
            if (i >= 2 * settings.WarmupSamples)
            {
                samples[i % 2].Add(timing);
            }
        }

        var figures = samples.Select(s => new DecisionFigures(
            LatencySummary.FromTicks([.. s.Select(t => t.ToResult)]), LatencySummary.FromTicks([.. s.Select(t => t.ToDecisionAnswer)]))).ToArray();
        foreach (var (what, f) in (ReadOnlySpan<(string, DecisionFigures)>)[("same node", figures[0]), ("across nodes", figures[1])])
        {
            GatedReport.Note($"{$"{what}: approve sent → held call returns",-52} {f.ToResult}");
            GatedReport.Note($"{$"{what}: approve sent → approve answered (200)",-52} {f.ToDecisionAnswer}");
        }

        return (figures[0], figures[1]);
    }

    /// <summary>Step 3: closed loop, every client a session of its own on A: hold a call, approve it on A, wait for its result.</summary>
    private static async Task EndToEndAsync(
        GatedSettings settings, GatedCluster cluster, HeldCalls calls, McpTarget gated, Approver approver, int? postmaster, GatedReport report, CancellationToken ct)
    {
        GatedReport.Heading("3", Report.Invariant(
            $"End to end: {settings.Clients} clients, each call → approve → result in a loop ({settings.SegmentDuration.TotalSeconds:0} s after {settings.Warmup.TotalSeconds:0} s warm-up)"));
        await gated.EnsureClientsAsync(settings.Clients, ct);

        async Task<bool> CycleAsync(int client, CancellationToken token)
        {
            var held = await calls.HoldAsync(client, token);
            await HeldCalls.DecideAsync(held, approver, cluster.A.BaseUrl, Approver.Approve, token);
            return true;
        }

        await Load.RunAsync(settings.Clients, settings.Warmup, CycleAsync, ct);
        var meter = new CpuMeter(cluster.Upstream.Process, cluster.A.Process, postmaster);
        var (cpuBefore, otherBefore) = (meter.Read(), cluster.B.Process.CpuTime);
        var load = await Load.RunAsync(settings.Clients, settings.SegmentDuration, CycleAsync, ct);
        report.EndToEnd = new EndToEndFigures(load, meter.Read() - cpuBefore, cluster.B.Process.CpuTime - otherBefore);
        GatedReport.Note(Report.Invariant($"{load.PerSecond:N1} approvals/s, cycle {load.Latency}; CPU per approval: {report.EndToEnd.CpuLine}"));
    }

    /// <summary>Step 4: hold many calls at once on A, read its memory and the database before and after, then deny them all.</summary>
    private static async Task<HoldFigures> HoldManyAsync(
        GatedSettings settings, GatedCluster cluster, Approver approver, GatedDatabase database, int? postmaster, CancellationToken ct)
    {
        var (n, sessions) = (settings.Held, settings.Sessions);
        GatedReport.Heading("4", Report.Invariant($"{n:N0} gated calls held at once on A ({sessions} MCP sessions, one HTTP connection per call), then all denied"));
        var pid = cluster.A.Process.Pid;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(HoldTimeout(n));

        var empty = await MemoryProbe.ReadAsync(pid, ct);
        await using var target = new McpTarget("held", cluster.A.Endpoint, cluster.A.Key, cluster.Tool, cluster.Upstream.Arguments);
        await target.EnsureClientsAsync(sessions, ct);
        var before = await MemoryProbe.ReadAsync(pid, ct);
        var tablesBefore = await database.SizesAsync(ct);
        GatedReport.Note(Report.Invariant($"before: {GatedReport.Describe(before)} ({sessions} idle sessions open)"));

        var calls = new HeldCalls(target);
        var held = new HeldCall[n];
        var count = 0;
        var begun = Stopwatch.GetTimestamp();
        using (new Ticker(TimeSpan.FromSeconds(10), () => GatedReport.Note(Report.Invariant($"  held {Volatile.Read(ref count):N0} of {n:N0}"))))
        {
            // A bounded number of calls being started at a time, as agents arriving; each is held once its first progress notification came.
            await Parallel.ForAsync(0, n, new ParallelOptions { MaxDegreeOfParallelism = HoldParallelism, CancellationToken = deadline.Token }, async (i, _) =>
            {
                held[i] = await calls.HoldAsync(i % sessions, deadline.Token);
                Interlocked.Increment(ref count);
            });
        }

        var holdTime = Stopwatch.GetElapsedTime(begun);
        var heldAt = Stopwatch.GetTimestamp();
        GatedReport.Note(Report.Invariant($"{n:N0} held in {holdTime.TotalSeconds:0.0} s ({n / holdTime.TotalSeconds:N0}/s); pending approvals in the database: {await database.PendingAsync(ct):N0}"));
        await Task.Delay(Settle, ct);
        var after = await MemoryProbe.ReadAsync(pid, ct);
        var tablesAfter = await database.SizesAsync(ct);
        GatedReport.Note(Report.Invariant($"held:   {GatedReport.Describe(after)}"));

        // What holding costs while nothing happens: the waiters' safety-net polls, progress, timers. A backend that went
        // idle reports its statistics up to 10 s later, so the window starts once the holding's own transactions are in.
        if (StatsLag - Stopwatch.GetElapsedTime(heldAt) is { Ticks: > 0 } lag)
        {
            await Task.Delay(lag, ct);
        }

        var meter = new CpuMeter(cluster.Upstream.Process, cluster.A.Process, postmaster);
        var (cpuBefore, transactionsBefore) = (meter.Read(), await database.TransactionsAsync(ct));
        await Task.Delay(IdleWindow, ct);
        var (idleCpu, idleTransactions) = (meter.Read() - cpuBefore, await database.TransactionsAsync(ct) - transactionsBefore);
        GatedReport.Note(Report.Invariant(
            $"idle {IdleWindow.TotalSeconds:0} s: gateway A {idleCpu.Gateway / IdleWindow:P0} of a core, PostgreSQL {(idleCpu.Postgres ?? TimeSpan.Zero) / IdleWindow:P0}, ≈{idleTransactions / IdleWindow.TotalSeconds:N0} transactions/s"));

        begun = Stopwatch.GetTimestamp();
        await Parallel.ForAsync(0, n, new ParallelOptions { MaxDegreeOfParallelism = DenyParallelism, CancellationToken = deadline.Token }, async (i, _) =>
            await approver.DecideAsync(cluster.A.BaseUrl, held[i].Id, Approver.Deny, deadline.Token));
        var results = await Task.WhenAll(held.Select(h => h.Result)).WaitAsync(deadline.Token);
        var releaseTime = Stopwatch.GetElapsedTime(begun);
        for (var i = 0; i < n; i++)
        {
            HeldCalls.Check(held[i], results[i], Approver.Deny);
        }

        var pending = await database.PendingAsync(ct);
        GatedReport.Note(Report.Invariant($"all {n:N0} denied and answered as denied in {releaseTime.TotalSeconds:0.0} s ({n / releaseTime.TotalSeconds:N0}/s); pending approvals left: {pending:N0}"));

        // Sessions ended and connections closed, the node should be back where it started: what is left is kept for good.
        await target.DisposeAsync();
        await Task.Delay(Settle, ct);
        var released = await MemoryProbe.ReadAsync(pid, ct);
        GatedReport.Note(Report.Invariant($"closed: {GatedReport.Describe(released)} (sessions ended, connections closed)"));
        if (pending != 0)
        {
            throw new InvalidOperationException($"{pending} approvals are still pending after every held call was denied.");
        }

        return new HoldFigures(n, sessions, empty, before, after, released, tablesBefore, tablesAfter, holdTime, releaseTime, idleCpu, IdleWindow, idleTransactions);
    }

    private const int HoldParallelism = 64;
    private const int DenyParallelism = 16;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StatsLag = TimeSpan.FromSeconds(11);

    /// <summary>Holding and releasing must each go faster than 25 calls/s, or the run fails instead of running on.</summary>
    private static TimeSpan HoldTimeout(int held) => TimeSpan.FromSeconds(60 + (2 * held / 25.0));

    /// <summary>Runs <paramref name="tick"/> every <paramref name="period"/> until disposed.</summary>
    private sealed class Ticker : IDisposable
    {
        private readonly Timer _timer;

        public Ticker(TimeSpan period, Action tick) => _timer = new Timer(_ => tick(), null, period, period);

        public void Dispose() => _timer.Dispose();
    }
}
