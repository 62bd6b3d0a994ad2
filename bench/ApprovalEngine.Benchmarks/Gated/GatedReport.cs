using System.Runtime.InteropServices;
using System.Text;
using ApprovalEngine.Benchmarks.Gateway;
using static ApprovalEngine.Benchmarks.Report;

namespace ApprovalEngine.Benchmarks.Gated;

/// <summary>Decision-to-result latency of one path, and how long the decision's own HTTP request took.</summary>
public sealed record DecisionFigures(LatencySummary ToResult, LatencySummary ToDecisionAnswer);

/// <summary>The closed-loop call → approve → result segment, with the CPU of each process (gateway B apart).</summary>
public sealed record EndToEndFigures(LoadResult Load, CpuTimes Cpu, TimeSpan GatewayB)
{
    public string CpuLine
    {
        get
        {
            var n = Load.Operations;
            string Us(TimeSpan? cpu) => cpu is { } c ? Invariant($"{Pooled.PerOperation(c, n):N0} µs") : "n/a";
            return $"clients {Us(Cpu.Bench)} · upstream {Us(Cpu.Upstream)} · gateway A {Us(Cpu.Gateway)} · gateway B {Us(GatewayB)} · PostgreSQL {Us(Cpu.Postgres)} · total {Us(Cpu.Total + GatewayB)}";
        }
    }
}

/// <summary>Step 5: the readings around holding <see cref="Held"/> calls on one node.</summary>
public sealed record HoldFigures(
    int Held,
    int Sessions,
    MemoryReading Empty,
    MemoryReading Before,
    MemoryReading After,
    MemoryReading Released,
    Dictionary<string, TableSize> TablesBefore,
    Dictionary<string, TableSize> TablesAfter,
    TimeSpan HoldTime,
    TimeSpan ReleaseTime,
    CpuTimes IdleCpu,
    TimeSpan IdleWindow,
    long IdleTransactions)
{
    public MemoryReading PerCall => (After - Before).Per(Held);

    /// <summary>What stays once every held call was answered and its session and connection closed, per call held.</summary>
    public MemoryReading Retained => (Released - Empty).Per(Held);
}

/// <summary>Prints each step as it is measured, and the whole run as markdown at the end.</summary>
public sealed class GatedReport(GatedSettings settings)
{
    // The aims (bench/README.md).
    private const double AimBytesPerCall = 20 * 1024;
    private const double AimSameNodeP50 = 10;
    private const double AimCrossNodeP50 = 25;

    public ServerInfo? Server { get; set; }

    public string DatabaseDescription { get; set; } = "";

    public string LoadBefore { get; init; } = "unknown";

    public string LoadAfter { get; set; } = "unknown";

    public LoadResult? Direct { get; set; }

    public LoadResult? Ungated { get; set; }

    public LoadResult? CommitOne { get; set; }

    public LoadResult? CommitMany { get; set; }

    public DecisionFigures? SameNode { get; set; }

    public DecisionFigures? CrossNode { get; set; }

    public EndToEndFigures? EndToEnd { get; set; }

    public HoldFigures? Hold { get; set; }

    public static void Heading(string step, string title) => Report.Heading(step, title);

    public static void Note(string text) => Report.Note(text);

    public static string Describe(MemoryReading m) =>
        Invariant($"resident {Mb(m.Rss)} (anonymous {Mb(m.RssAnonymous)}), GC heap {Mb(m.GcHeap)} of which live {Mb(m.GcLive)}, {m.GcHandles:N0} GC handles");

    /// <summary>The 1-, 5- and 15-minute load averages: other work on the machine shows up here, and in every figure.</summary>
    public static string LoadAverage()
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

    public string Summary(TimeSpan elapsed)
    {
        var text = new StringBuilder();
        text.AppendLine("## Gated-calls benchmark");
        text.AppendLine();
        text.AppendLine("- Upstream: the C# echo server (bench echo-upstream, its own process). Gateways A and B: this build, each its own process, one database; "
            + "calls of up__echo whose text starts with \"gated-\" need one approval (hold 10 min), others are allowed; decisions over POST /api/approvals/{id}/approve with an approver's token");
        text.AppendLine("- Agents: MCP 2025-11-25 sessions; every gated call has arguments of its own and a progress token, whose first notification names the approval and means \"held\"");
        text.AppendLine(Invariant($"- Runtime PollInterval on both gateways: {Seconds(settings.PollInterval)}"));
        if (Server is { } server)
        {
            text.AppendLine(Invariant(
                $"- PostgreSQL {server.Version}, {DatabaseDescription}: fsync={server.Fsync}, synchronous_commit={server.SynchronousCommit}, full_page_writes={server.FullPageWrites}"));
        }

        text.AppendLine(Invariant(
            $"- {Environment.ProcessorCount} CPUs, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; everything shares them; load average {LoadBefore} at the start, {LoadAfter} at the end; run took {elapsed.TotalSeconds:0} s"));
        text.AppendLine();
        text.AppendLine("| Measure | Result | Reference (same run) | Aim |");
        text.AppendLine("|---|---|---|---|");
        AppendHold(text);
        AppendDecisions(text);
        AppendEndToEnd(text);
        text.AppendLine();
        AppendDetails(text);
        return text.ToString();
    }

    private void AppendHold(StringBuilder text)
    {
        if (Hold is not { } hold)
        {
            return;
        }

        var per = hold.PerCall;
        text.AppendLine(Invariant(
            $"| Memory per held call ({hold.Held:N0} held on one node, {hold.Sessions} sessions) | {Kb(per.GcLive)} live GC heap ({Kb(per.GcHeap)} with free space); resident set {Kb(per.Rss)} | node before: {Mb(hold.Before.Rss)} resident, {Mb(hold.Before.GcLive)} live GC heap | ≤ {Kb(AimBytesPerCall)}: {Verdict(per.GcLive <= AimBytesPerCall)} |"));
        var rows = string.Join(", ", GatedDatabase.Tables
            .Select(t => (Table: t, Rows: (double)(hold.TablesAfter[t].Rows - hold.TablesBefore[t].Rows) / hold.Held))
            .Where(r => r.Rows > 0)
            .Select(r => Invariant($"{r.Rows:0.##} {r.Table}")));
        var bytes = GatedDatabase.Tables.Sum(t => hold.TablesAfter[t].Bytes - hold.TablesBefore[t].Bytes) / (double)hold.Held;
        text.AppendLine(Invariant($"| Database per held call | {Kb(bytes)} on disk; rows: {rows} | | |"));
        var idle = hold.IdleWindow;
        text.AppendLine(Invariant(
            $"| Holding {hold.Held:N0} calls, nothing else happening | gateway {hold.IdleCpu.Gateway / idle:P0} of a core, PostgreSQL {(hold.IdleCpu.Postgres ?? TimeSpan.Zero) / idle:P0}, ≈{hold.IdleTransactions / idle.TotalSeconds:N0} transactions/s ({hold.IdleTransactions / idle.TotalSeconds / hold.Held:0.00} per held call) | runtime PollInterval {Seconds(settings.PollInterval)} | |"));
        text.AppendLine(Invariant(
            $"| Holding / releasing {hold.Held:N0} calls | {hold.Held / hold.HoldTime.TotalSeconds:N0} held/s; {hold.Held / hold.ReleaseTime.TotalSeconds:N0} denied and answered/s | | |"));
    }

    private void AppendDecisions(StringBuilder text)
    {
        var reference = Direct is { } direct && Ungated is { } ungated && CommitOne is { } commit
            ? Invariant($"tools/call direct p50 {Ms(direct.Latency.P50)}, through the gateway ungated p50 {Ms(ungated.Latency.P50)}; durable commit p50 {Ms(commit.Latency.P50)}")
            : "";
        foreach (var (name, figures, aim) in (ReadOnlySpan<(string, DecisionFigures?, double)>)[("same node", SameNode, AimSameNodeP50), ("across nodes", CrossNode, AimCrossNodeP50)])
        {
            if (figures is null)
            {
                continue;
            }

            var p50 = figures.ToResult.P50;
            text.AppendLine(Invariant(
                $"| Decision → result, {name} (p50 / p99) | {Ms(p50)} / {Ms(figures.ToResult.P99)} (the approve request itself: {Ms(figures.ToDecisionAnswer.P50)} / {Ms(figures.ToDecisionAnswer.P99)}) | {reference} | p50 ≤ {aim:0} ms: {Verdict(p50 <= aim)} |"));
            reference = CommitOne is { } one ? Invariant($"p50 = {p50 / one.Latency.P50:0.0}× a durable commit") : "";
        }
    }

    private void AppendEndToEnd(StringBuilder text)
    {
        if (EndToEnd is not { } e2e)
        {
            return;
        }

        var reference = CommitMany is { } many ? Invariant($"{many.PerSecond:N0} durable commits/s on {settings.Clients} connections") : "";
        text.AppendLine(Invariant(
            $"| End to end, {settings.Clients} clients: call → approve → result | {e2e.Load.PerSecond:N0} approvals/s, cycle p50 {Ms(e2e.Load.Latency.P50)}, p99 {Ms(e2e.Load.Latency.P99)} | {reference} | |"));
    }

    private void AppendDetails(StringBuilder text)
    {
        if (EndToEnd is { } e2e)
        {
            text.AppendLine($"CPU per approval, end to end: {e2e.CpuLine}.");
        }

        if (Hold is not { } hold)
        {
            return;
        }

        text.AppendLine(Invariant(
            $"Gateway A's memory, each reading after a full GC: no session {Describe(hold.Empty)}; {hold.Sessions} idle sessions {Describe(hold.Before)}; {hold.Held:N0} held {Describe(hold.After)}; all answered, sessions and connections closed {Describe(hold.Released)} ({Kb(hold.Retained.Rss)} resident, {Kb(hold.Retained.GcLive)} live GC heap per held call kept)."));
        text.AppendLine("Database growth per held call, by table: " + string.Join(", ", GatedDatabase.Tables.Select(t =>
            Invariant($"{t} {(hold.TablesAfter[t].Rows - hold.TablesBefore[t].Rows) / (double)hold.Held:0.##} rows, {Kb((hold.TablesAfter[t].Bytes - hold.TablesBefore[t].Bytes) / (double)hold.Held)}"))) + ".");
    }

    private static string Seconds(TimeSpan? poll) => poll is { } p ? Invariant($"{p.TotalSeconds:0.###} s") : "1 s (as shipped)";

    private static string Ms(double ms) => Invariant($"{ms:0.00} ms");

    private static string Kb(double bytes) => Invariant($"{bytes / 1024:0.0} KB");

    private static string Mb(long bytes) => Invariant($"{bytes / 1048576.0:N0} MB");

    private static string Verdict(bool met) => met ? "met" : "missed";
}
