using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>Prints each segment as it is measured, and the whole run as markdown tables at the end.</summary>
public sealed class GatewayReport(GatewaySettings settings, ServerInfo server, string database, Upstream upstream)
{
    // The aim for one client (docs: bench/README.md).
    private const double AimAddedP50 = 1.0;
    private const double AimAddedP99 = 5.0;
    private const double AimRatio = 0.5;

    public List<Comparison> Levels { get; } = [];

    public List<Comparison> PeakLevels { get; } = [];

    public List<(string Request, Comparison Figures)> Breakdown { get; } = [];

    public AuditCount? Audit { get; set; }

    /// <summary>Load averages (1 / 5 / 15 min) when the run started and when it ended.</summary>
    public string LoadBefore { get; init; } = "unknown";

    public string LoadAfter { get; set; } = "unknown";

    /// <summary>Where the processes ran (<see cref="CpuPlacement.Description"/>).</summary>
    public string Cpus { get; init; } = CpuPlacement.Shared.Description;

    public LoadResult? CommitOne { get; set; }

    public (int Connections, LoadResult Result)? CommitMany { get; set; }

    public static void Heading(string step, string title) => Report.Heading(step, title);

    public static void Note(string text) => Report.Note(text);

    public static void Line(Segment s, string label)
    {
        var n = s.Load.Operations;
        Note(Invariant(
            $"{s.Target,-8} {Clients(s.Clients),-11} {label,-10} {s.Load.Latency,-40} {s.Load.PerSecond,8:N0}/s   CPU µs/op: clients {Us(s.Cpu.Bench, n)} · upstream {Us(s.Cpu.Upstream, n)} · gateway {Us(s.Cpu.Gateway, n)} · PostgreSQL {Us(s.Cpu.Postgres, n)}   WAL {(double)s.WalBytes / n:0} B/op"));
    }

    public string AuditVerdict() => Audit switch
    {
        null => "not checked",
        { Table: null } a => Invariant(
            $"NOT ON: the gateway's database has no audit table (tables: {(a.Tables.Count == 0 ? "none" : string.Join(", ", a.Tables))}); {a.Expected:N0} tools/call went through the gateway unaudited"),
        { Matches: true } a => Invariant($"on: {a.Rows:N0} rows in {a.Table} = {a.Expected:N0} tools/call through the gateway"),
        var a => Invariant($"MISMATCH: {a.Rows:N0} rows in {a.Table}, but {a.Expected:N0} tools/call went through the gateway"),
    };

    public string Summary(TimeSpan elapsed)
    {
        var text = new StringBuilder();
        text.AppendLine("## Gateway benchmark");
        text.AppendLine();
        text.AppendLine(Invariant($"- Upstream: {upstream.Description}"));
        text.AppendLine(Invariant(
            $"- Gateway: this build, its own process (server GC), {settings.GatewayDescription}; one http upstream, one agent (API key), one namespaced bundle; every client its own MCP session (2025-11-25)"));
        text.AppendLine(Invariant(
            $"- PostgreSQL {server.Version}, {database}: fsync={server.Fsync}, synchronous_commit={server.SynchronousCommit}, full_page_writes={server.FullPageWrites}"));
        text.AppendLine(Invariant($"- {Environment.ProcessorCount} CPUs, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; CPUs {Cpus}; load average {LoadBefore} at the start, {LoadAfter} at the end"));
        text.AppendLine(Invariant(
            $"- {settings.SegmentDuration.TotalSeconds:0.#} s per segment after {settings.Warmup.TotalSeconds:0.#} s warm-up, {settings.Rounds} round(s) per level (direct/gateway order alternating, samples pooled); run took {elapsed.TotalSeconds:0} s"));
        text.AppendLine(Invariant($"- Audit: {AuditVerdict()}"));
        text.AppendLine();

        text.AppendLine("| Clients | Direct p50 | Direct p99 | Direct calls/s | Gateway p50 | Gateway p99 | Gateway calls/s | Added p50 | Added p99 | Gateway/direct |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var level in Levels)
        {
            text.AppendLine(Invariant(
                $"| {level.Clients} | {Ms(level.Direct.Latency.P50)} | {Ms(level.Direct.Latency.P99)} | {level.Direct.PerSecond:N0} | {Ms(level.Gateway.Latency.P50)} | {Ms(level.Gateway.Latency.P99)} | {level.Gateway.PerSecond:N0} | {Added(level.AddedP50)} | {Added(level.AddedP99)} | {Report.Percent(level.Ratio)} |"));
        }

        if (PeakLevels.Count > 0)
        {
            var all = Levels.Concat(PeakLevels).ToList();
            var directPeak = all.MaxBy(l => l.Direct.PerSecond)!;
            var gatewayPeak = all.MaxBy(l => l.Gateway.PerSecond)!;
            text.AppendLine(Invariant(
                $"| peak | | | {directPeak.Direct.PerSecond:N0} ({directPeak.Clients} clients) | | | {gatewayPeak.Gateway.PerSecond:N0} ({gatewayPeak.Clients} clients) | | | {Report.Percent(gatewayPeak.Gateway.PerSecond / directPeak.Direct.PerSecond)} |"));
            text.AppendLine();
            text.AppendLine("Peak search (one segment per target and level):");
            text.AppendLine();
            text.AppendLine("| Clients | Direct p50 | Direct p99 | Direct calls/s | Gateway p50 | Gateway p99 | Gateway calls/s | Gateway/direct |");
            text.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var level in PeakLevels)
            {
                text.AppendLine(Invariant(
                    $"| {level.Clients} | {Ms(level.Direct.Latency.P50)} | {Ms(level.Direct.Latency.P99)} | {level.Direct.PerSecond:N0} | {Ms(level.Gateway.Latency.P50)} | {Ms(level.Gateway.Latency.P99)} | {level.Gateway.PerSecond:N0} | {Report.Percent(level.Ratio)} |"));
            }
        }

        text.AppendLine();
        AppendAim(text);
        AppendCpu(text);
        AppendBreakdown(text);
        AppendCommits(text);
        return text.ToString();
    }

    private void AppendAim(StringBuilder text)
    {
        if (Levels.FirstOrDefault(l => l.Clients == 1) is not { } one)
        {
            return;
        }

        // Throughput is judged on the best rate of each path at any level: at one client a closed loop's rate is
        // 1 / latency, which the latency aims already cover.
        var all = Levels.Concat(PeakLevels).ToList();
        var peakRatio = all.Max(l => l.Gateway.PerSecond) / all.Max(l => l.Direct.PerSecond);
        text.AppendLine(Invariant(
            $"Aim: at 1 client added p50 {Added(one.AddedP50)} (aim ≤ {AimAddedP50:0} ms: {Verdict(one.AddedP50 <= AimAddedP50)}) and added p99 {Added(one.AddedP99)} (aim ≤ {AimAddedP99:0} ms: {Verdict(one.AddedP99 <= AimAddedP99)}); maximum throughput {Report.Percent(peakRatio)} of direct (aim ≥ {Report.Percent(AimRatio)}: {Verdict(peakRatio >= AimRatio)}; CPUs {Cpus})."));
        if (Audit is { Matches: false })
        {
            text.AppendLine("These figures do not include the cost of auditing: the audit was not on (see above).");
        }

        text.AppendLine();
    }

    private void AppendCpu(StringBuilder text)
    {
        text.AppendLine("CPU per call (µs, user + system, pooled segments); on 2 cores the total bounds the rate at about 2,000,000 / total calls/s:");
        text.AppendLine();
        text.AppendLine("| Clients | Path | Clients (bench) | Upstream | Gateway | PostgreSQL | Total | WAL bytes/call |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var level in Levels.Concat(PeakLevels))
        {
            foreach (var (path, pooled) in (ReadOnlySpan<(string, Pooled)>)[("direct", level.Direct), ("gateway", level.Gateway)])
            {
                var cpu = pooled.Cpu;
                var n = pooled.Operations;
                text.AppendLine(Invariant(
                    $"| {level.Clients} | {path} | {Us(cpu.Bench, n)} | {Us(cpu.Upstream, n)} | {Us(cpu.Gateway, n)} | {Us(cpu.Postgres, n)} | {Us(cpu.Total, n)} | {(double)pooled.WalBytes / n:0} |"));
            }
        }

        text.AppendLine();
    }

    private void AppendBreakdown(StringBuilder text)
    {
        if (Breakdown.Count == 0)
        {
            return;
        }

        text.AppendLine("Where the added time goes, 1 client (p50 / p99; the gateway answers ping and tools/list itself, tools/call goes on to the upstream):");
        text.AppendLine();
        text.AppendLine("| Request | Direct | Through the gateway | Added p50 / p99 |");
        text.AppendLine("|---|---|---|---|");
        foreach (var (request, figures) in Breakdown)
        {
            text.AppendLine(Invariant(
                $"| {request} | {Ms(figures.Direct.Latency.P50)} / {Ms(figures.Direct.Latency.P99)} | {Ms(figures.Gateway.Latency.P50)} / {Ms(figures.Gateway.Latency.P99)} | {Added(figures.AddedP50)} / {Added(figures.AddedP99)} |"));
        }

        var byName = Breakdown.ToDictionary(b => b.Request, b => b.Figures);
        if (byName.TryGetValue("ping", out var ping) && byName.TryGetValue("tools/call", out var call))
        {
            // Through the gateway a call is one agent-facing exchange (≈ a ping through the gateway) plus one upstream call
            // (≈ the direct call); what is left is the gateway's own work between the two.
            var glue = call.Gateway.Latency.P50 - ping.Gateway.Latency.P50 - call.Direct.Latency.P50;
            text.AppendLine();
            text.AppendLine(Invariant(
                $"At p50: agent-facing exchange (gateway ping) {Ms(ping.Gateway.Latency.P50)} + upstream call (direct tools/call) {Ms(call.Direct.Latency.P50)} + the rest (routing, proxy client, audit, result relay) {Ms(glue)} = gateway tools/call {Ms(call.Gateway.Latency.P50)}."));
        }

        text.AppendLine();
    }

    private void AppendCommits(StringBuilder text)
    {
        if (CommitOne is null || CommitMany is not { } many)
        {
            return;
        }

        text.AppendLine(Invariant(
            $"Durable single-row commits on the same PostgreSQL (what waiting for an audit row costs at least): 1 connection {CommitOne.PerSecond:N0}/s, p50 {Ms(CommitOne.Latency.P50)}, p99 {Ms(CommitOne.Latency.P99)}; {many.Connections} connections {many.Result.PerSecond:N0}/s, p50 {Ms(many.Result.Latency.P50)}, p99 {Ms(many.Result.Latency.P99)}."));
    }

    private static string Clients(int n) => n == 1 ? "1 client" : Invariant($"{n} clients");

    private static string Ms(double ms) => Invariant($"{ms:0.00} ms");

    private static string Added(double ms) => Invariant($"{(ms >= 0 ? "+" : "−")}{Math.Abs(ms):0.00} ms");

    private static string Us(TimeSpan? cpu, long operations) => cpu is { } c ? Invariant($"{Pooled.PerOperation(c, operations):0}") : "n/a";

    private static string Verdict(bool met) => met ? "met" : "missed";

    private static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
