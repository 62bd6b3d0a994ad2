using System.Diagnostics;
using ApprovalEngine.Benchmarks.Gated;
using ApprovalEngine.Benchmarks.Gateway;
using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Humans;
using Npgsql;

namespace ApprovalEngine.Benchmarks.SessionLoad;

/// <summary>
/// Many agent sessions at once, allowed and gated calls mixed, through one gateway process, against the same sessions
/// calling the same upstream directly in the same run. The gated calls are approved by an approver on the approvals
/// API as they come. Throughput, latency of each kind, the server process's peak memory and errors are printed as they
/// are measured, and as ratios against the direct path in a markdown summary at the end.
/// </summary>
public static class LoadBenchmark
{
    private const int OpenInParallel = 32;
    private const string Approver = "ops@example.com";
    private static readonly TimeSpan ListedTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(LoadSettings settings, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        return await BenchWorkDirectory.RunAsync("load", work => RunAsync(settings, work, started, ct), exitCode => exitCode != 0, ct);
    }

    private static async Task<int> RunAsync(LoadSettings settings, string work, long started, CancellationToken ct)
    {
        var report = new LoadReport(settings) { LoadBefore = GatedReport.LoadAverage() };
        await using var database = await BenchDatabase.OpenAsync(settings.ConnectionString, ct);
        report.Server = await database.DescribeAsync(ct);
        report.DatabaseDescription = database.Description;
        Console.WriteLine($"PostgreSQL {report.Server.Version}, {database.Description}: fsync={report.Server.Fsync}, synchronous_commit={report.Server.SynchronousCommit}");
        var gatewayDatabase = await database.CreateAsync("load", ct);

        await using var upstream = await Upstream.StartAsync(UpstreamKind.Dotnet, work, ct);
        var token = UserTokens.Generate();
        var tool = GatewayProcess.ToolName(upstream.Tool);
        await using var gateway = await GatewayProcess.StartAsync(
            upstream.Endpoint, gatewayDatabase, settings.GatewayEnvironment, work, "gateway", ApiKeys.Generate(), GatedCluster.Config(tool, UserTokens.Hash(token), "approver"), ct);
        Console.WriteLine($"Upstream: {upstream.Description}; pid {upstream.Process.Pid}, {upstream.Endpoint}");
        Console.WriteLine($"Gateway: pid {gateway.Process.Pid}, {gateway.Endpoint}; calls of {tool} whose text starts with \"{MixedLoad.GatedPrefix}\" need one approval");
        try
        {
            await using (var first = new McpTarget("gateway", gateway.Endpoint, gateway.Key, tool, upstream.Arguments))
            {
                await first.WaitUntilListedAsync(ListedTimeout, ct);
            }

            var cpu = new CpuMeter(upstream.Process, gateway.Process, database.ClusterPid);
            using var http = RawSession.CreateHttpClient();
            Report.Heading("1", Report.Invariant(
                $"Direct to the upstream: {settings.Sessions:N0} sessions, {settings.GatedShare:P0} of calls marked gated (just echoes here), {settings.Warmup.TotalSeconds:0} s warm-up + {settings.Duration.TotalSeconds:0} s measured"));
            report.Direct = await PhaseAsync(settings, http, upstream.Endpoint, null, upstream.Tool, upstream.Process, cpu, connections: null, ct);

            Report.Heading("2", Report.Invariant(
                $"Through the gateway: {settings.Sessions:N0} sessions, {settings.GatedShare:P0} of calls gated and approved over the API ({settings.Approvers} decisions at a time), same timing"));
            await using (var approver = new AutoApprover(gateway.BaseUrl, token, settings.Approvers))
            {
                report.Gateway = await PhaseAsync(settings, http, gateway.Endpoint, gateway.Key, tool, gateway.Process, cpu, gatewayDatabase, ct);
                report.Approver = (approver.Approved, approver.Refused, approver.Failures, approver.Lists);
            }

            Report.Note(Report.Invariant(
                $"approver: {report.Approver.Approved:N0} approved, {report.Approver.Refused:N0} refused, {report.Approver.Failures:N0} failed requests, {report.Approver.Lists:N0} lists of pending approvals"));
            report.Steps = await GatedStepsAsync(gatewayDatabase, ct);
            Report.Note($"gated calls on the database clock: requested → approved {report.Steps.ToApproval}; approved → execution started {report.Steps.ToStart}; execution started → result stored {report.Steps.Call}");
            report.AuditRows = await CountAsync(gatewayDatabase, "SELECT count(*) FROM tool_call_audit", ct);
            report.PendingLeft = await CountAsync(gatewayDatabase, "SELECT count(*) FROM wf_instance WHERE state IN ('pending', 'approved', 'executing')", ct);
            Report.Note(Report.Invariant(
                $"audit: {report.AuditRows:N0} tool-call records for {report.Gateway.Mix.Started:N0} calls started through the gateway; approvals not final at the end: {report.PendingLeft:N0}"));
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"\nThe load benchmark failed: {e}\n\n{gateway.Process.Tail()}\n\n{upstream.Process.Tail()}");
            return 1;
        }

        report.LoadAfter = GatedReport.LoadAverage();
        Console.WriteLine();
        Console.WriteLine(report.Summary(Stopwatch.GetElapsedTime(started)));
        return report.Clean ? 0 : 3;
    }

    /// <summary>Opens the sessions, runs the mixed load on them while watching the server, closes them.</summary>
    private static async Task<PhaseFigures> PhaseAsync(
        LoadSettings settings, HttpClient http, Uri endpoint, string? bearer, string tool, ChildProcess server, CpuMeter cpu, string? connections, CancellationToken ct)
    {
        var opening = Stopwatch.StartNew();
        var sessions = new RawSession[settings.Sessions];
        await Parallel.ForAsync(0, sessions.Length, new ParallelOptions { MaxDegreeOfParallelism = OpenInParallel, CancellationToken = ct }, async (i, token) =>
            sessions[i] = await RawSession.OpenAsync(http, endpoint, bearer, token));
        Report.Note(Report.Invariant($"{sessions.Length:N0} sessions opened in {opening.Elapsed.TotalSeconds:0.0} s"));

        await using var watch = new ProcessWatch(server.Pid);
        await using var database = connections is null ? null : new ConnectionWatch(connections);
        CpuTimes? before = null, after = null;
        var mix = await MixedLoad.RunAsync(
            sessions, tool, settings.GatedShare, settings.Warmup, settings.Duration, () => before = cpu.Read(), () => after = cpu.Read(), Report.Note, ct);
        var peaks = await watch.StopAsync();
        var databasePeak = database is null ? (int?)null : await database.StopAsync();

        using (var closing = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            closing.CancelAfter(CloseTimeout);
            await Parallel.ForEachAsync(sessions, new ParallelOptions { MaxDegreeOfParallelism = OpenInParallel * 2, CancellationToken = closing.Token }, async (s, token) =>
                await s.CloseAsync(token));
        }

        var phase = new PhaseFigures(mix, peaks, after! - before!, databasePeak);
        Report.Note(Report.Invariant(
            $"{mix.PerSecond:N0} calls/s ({mix.Allowed:N0} allowed, {mix.Gated:N0} gated in {mix.Window.TotalSeconds:0} s); allowed {mix.AllowedLatency}; gated {mix.GatedLatency}; errors: {mix.ErrorLine}"));
        var connectionsPeak = databasePeak is { } c ? Report.Invariant($", {c} PostgreSQL connections") : "";
        Report.Note(Report.Invariant(
            $"server pid {server.Pid}: peak resident {ProcessPeaks.Mb(peaks.Rss)} (VmHWM {ProcessPeaks.Mb(peaks.HighWaterMark)}), GC heap {ProcessPeaks.Mb(peaks.GcHeapBytes)}, {peaks.Threads} threads, {peaks.FileDescriptors:N0} open files{connectionsPeak}; CPU per call: {phase.CpuLine}"));
        return phase;
    }

    /// <summary>
    /// Where a gated call's time went, from its history (warm-up included): waiting for the approver, waiting for the
    /// execute task to be claimed and started, and the upstream call until its result was stored.
    /// </summary>
    private static async Task<GatedSteps> GatedStepsAsync(string connectionString, CancellationToken ct)
    {
        const string Sql = """
            SELECT (extract(epoch FROM a.recorded_at - r.recorded_at) * 1000)::float8,
                   (extract(epoch FROM x.recorded_at - a.recorded_at) * 1000)::float8,
                   (extract(epoch FROM s.recorded_at - x.recorded_at) * 1000)::float8
            FROM wf_event r
            JOIN wf_event a ON a.wf_id = r.wf_id AND a.type = 'approved'
            JOIN wf_event x ON x.wf_id = r.wf_id AND x.type = 'execution_started'
            JOIN wf_event s ON s.wf_id = r.wf_id AND s.type = 'execution_succeeded'
            WHERE r.type = 'requested'
            """;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(Sql, connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var steps = new[] { new List<long>(), new List<long>(), new List<long>() };
        while (await reader.ReadAsync(ct))
        {
            for (var i = 0; i < steps.Length; i++)
            {
                steps[i].Add((long)(reader.GetDouble(i) * Stopwatch.Frequency / 1000));
            }
        }

        return new GatedSteps(LatencySummary.FromTicks(steps[0]), LatencySummary.FromTicks(steps[1]), LatencySummary.FromTicks(steps[2]));
    }

    private static async Task<long> CountAsync(string connectionString, string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }
}
