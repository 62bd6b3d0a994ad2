using System.Runtime.InteropServices;
using System.Text;
using ApprovalEngine.Benchmarks.Gateway;
using static ApprovalEngine.Benchmarks.Report;

namespace ApprovalEngine.Benchmarks.SessionLoad;

/// <summary>One path's measured window: the calls, the server process's peaks, CPU over the window, and the most PostgreSQL connections.</summary>
public sealed record PhaseFigures(MixFigures Mix, ProcessPeaks Server, CpuTimes Cpu, int? DatabaseConnections)
{
    public string CpuLine
    {
        get
        {
            var n = Mix.Calls;
            string Us(TimeSpan? cpu) => cpu is { } c ? Invariant($"{Pooled.PerOperation(c, n):N0} µs") : "n/a";
            return $"clients {Us(Cpu.Bench)} · upstream {Us(Cpu.Upstream)} · gateway {Us(Cpu.Gateway)} · PostgreSQL {Us(Cpu.Postgres)} · total {Us(Cpu.Total)}";
        }
    }
}

/// <summary>A gated call's steps on the database clock, from its history.</summary>
public sealed record GatedSteps(LatencySummary ToApproval, LatencySummary ToStart, LatencySummary Call);

/// <summary>The run as markdown: each figure of the gateway next to the direct path's, and their ratio.</summary>
public sealed class LoadReport(LoadSettings settings)
{
    public ServerInfo? Server { get; set; }

    public string DatabaseDescription { get; set; } = "";

    public string LoadBefore { get; init; } = "unknown";

    public string LoadAfter { get; set; } = "unknown";

    public PhaseFigures? Direct { get; set; }

    public PhaseFigures? Gateway { get; set; }

    public (long Approved, long Refused, long Failures, long Lists) Approver { get; set; }

    public GatedSteps Steps { get; set; } = new(LatencySummary.Empty, LatencySummary.Empty, LatencySummary.Empty);

    public long AuditRows { get; set; }

    public long PendingLeft { get; set; }

    /// <summary>No call failed on either path, the approver was never refused, and nothing was left waiting.</summary>
    public bool Clean =>
        Direct is { } d && Gateway is { } g && d.Mix.ErrorCount + d.Mix.ErrorsOutside == 0 && g.Mix.ErrorCount + g.Mix.ErrorsOutside == 0
        && Approver.Refused == 0 && PendingLeft == 0;

    public string Summary(TimeSpan elapsed)
    {
        var text = new StringBuilder();
        text.AppendLine("## Load benchmark");
        text.AppendLine();
        text.AppendLine(Invariant(
            $"- {settings.Sessions:N0} MCP sessions (2025-11-25, raw JSON-RPC over Streamable HTTP, one call in flight each, closed loop), {settings.GatedShare:P0} of calls gated; {settings.Warmup.TotalSeconds:0} s warm-up, then {settings.Duration.TotalSeconds:0} s measured on each path, direct first"));
        text.AppendLine("- Upstream: the C# echo server (bench echo-upstream, its own process, server GC). Gateway: this build, its own process, one database; gated calls need one approval (hold 10 min), "
            + Invariant($"approved by a loop that lists pending approvals and approves each over the approvals API, {settings.Approvers} at a time; runtime PollInterval {(settings.PollInterval is { } p ? Invariant($"{p.TotalSeconds:0.###} s") : "1 s (as shipped)")}"));
        if (Server is { } server)
        {
            text.AppendLine(Invariant(
                $"- PostgreSQL {server.Version}, {DatabaseDescription}: fsync={server.Fsync}, synchronous_commit={server.SynchronousCommit}, full_page_writes={server.FullPageWrites}"));
        }

        text.AppendLine(Invariant(
            $"- {Environment.ProcessorCount} CPUs, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; clients, upstream, gateway and PostgreSQL share them; load average {LoadBefore} at the start, {LoadAfter} at the end; {DateTime.UtcNow:yyyy-MM-dd}; run took {elapsed.TotalSeconds:0} s"));
        text.AppendLine();
        if (Direct is not { } d || Gateway is not { } g)
        {
            return text.ToString();
        }

        var (dm, gm) = (d.Mix, g.Mix);
        text.AppendLine("| Measure | Direct to the upstream | Through the gateway | Gateway vs direct |");
        text.AppendLine("|---|---|---|---|");
        text.AppendLine(Invariant($"| Throughput | {dm.PerSecond:N0} calls/s | {gm.PerSecond:N0} calls/s ({gm.Calls - gm.Gated:N0} allowed, {gm.Gated:N0} gated: {gm.GatedPerSecond:N1} approvals/s) | {Percent(gm.PerSecond / dm.PerSecond)} |"));
        text.AppendLine(Invariant($"| Allowed calls, p50 / p99 | {Ms(dm.AllLatency.P50)} / {Ms(dm.AllLatency.P99)} | {Ms(gm.AllowedLatency.P50)} / {Ms(gm.AllowedLatency.P99)} | p99 {Times(gm.AllowedLatency.P99, dm.AllLatency.P99)} |"));
        if (gm.Gated > 0)
        {
            text.AppendLine(Invariant($"| Gated calls, call → approval → result, p50 / p99 | (an echo like the others) | {Ms(gm.GatedLatency.P50)} / {Ms(gm.GatedLatency.P99)} | p99 {Times(gm.GatedLatency.P99, dm.AllLatency.P99)} |"));
            text.AppendLine(Invariant($"| ↳ requested → approved (the approver's queue), p50 / p99 | | {Ms(Steps.ToApproval.P50)} / {Ms(Steps.ToApproval.P99)} | |"));
            text.AppendLine(Invariant($"| ↳ approved → execution started (the task queue), p50 / p99 | | {Ms(Steps.ToStart.P50)} / {Ms(Steps.ToStart.P99)} | |"));
            text.AppendLine(Invariant($"| ↳ execution started → result stored (the upstream call), p50 / p99 | | {Ms(Steps.Call.P50)} / {Ms(Steps.Call.P99)} | |"));
        }

        text.AppendLine(Invariant($"| Peak resident set of the server process (VmHWM) | {ProcessPeaks.Mb(d.Server.HighWaterMark)} (upstream) | {ProcessPeaks.Mb(g.Server.HighWaterMark)} (gateway) | {Times(g.Server.HighWaterMark, d.Server.HighWaterMark)} |"));
        text.AppendLine(Invariant($"| Peak GC heap of the server process | {ProcessPeaks.Mb(d.Server.GcHeapBytes)} | {ProcessPeaks.Mb(g.Server.GcHeapBytes)} | {Times(g.Server.GcHeapBytes, d.Server.GcHeapBytes)} |"));
        text.AppendLine(Invariant($"| CPU per call, all processes | {Us(d.Cpu.Total, dm.Calls)} | {Us(g.Cpu.Total, gm.Calls)} | {Times(g.Cpu.Total.TotalMicroseconds / gm.Calls, d.Cpu.Total.TotalMicroseconds / dm.Calls)} |"));
        text.AppendLine(Invariant($"| Errors in the window (outside it) | {dm.ErrorLine} ({dm.ErrorsOutside:N0}) | {gm.ErrorLine} ({gm.ErrorsOutside:N0}) | |"));
        text.AppendLine();
        text.AppendLine(
            Invariant($"Server process peaks: upstream {d.Server.Threads} threads, {d.Server.FileDescriptors:N0} open files, thread pool {Count(d.Server.ThreadPoolThreads)} threads (queue {Count(d.Server.ThreadPoolQueue)}); ") +
            Invariant($"gateway {g.Server.Threads} threads, {g.Server.FileDescriptors:N0} open files, thread pool {Count(g.Server.ThreadPoolThreads)} threads (queue {Count(g.Server.ThreadPoolQueue)}), {g.DatabaseConnections} PostgreSQL connections."));
        text.AppendLine($"CPU per call, direct: {d.CpuLine}. Through the gateway: {g.CpuLine}.");
        text.AppendLine(Invariant(
            $"Approver: {Approver.Approved:N0} approved, {Approver.Refused:N0} refused, {Approver.Failures:N0} failed requests. Audit: {AuditRows:N0} records for {gm.Started:N0} calls started. Approvals not final at the end: {PendingLeft:N0}."));
        return text.ToString();
    }

    private static string Ms(double ms) => Invariant($"{ms:N1} ms");

    private static string Us(TimeSpan cpu, long calls) => Invariant($"{Pooled.PerOperation(cpu, calls):N0} µs");

    private static string Count(double? value) => value is { } v ? Invariant($"{v:N0}") : "n/a";

    private static string Times(double? value, double? baseline) =>
        value is { } v && baseline is { } b && b > 0 ? Invariant($"{v / b:0.0}×") : "n/a";
}
