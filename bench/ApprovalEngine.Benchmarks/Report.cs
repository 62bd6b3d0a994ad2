using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ApprovalEngine.Benchmarks;

/// <summary>One reported figure and how it compares with the raw PostgreSQL baseline of the same run.</summary>
public sealed record Measurement(string Phase, string Name, string Result, string VsBaseline);

/// <summary>The raw single-row transaction figures every other result is compared with.</summary>
public sealed record Baseline(double OneConnection, double ManyConnections, int Connections, LatencySummary OneConnectionLatency);

/// <summary>Prints each measurement as it is taken, and the whole run as a markdown table at the end.</summary>
public sealed class Report(BenchSettings settings)
{
    private readonly List<Measurement> _rows = [];

    public Baseline? Baseline { get; set; }

    public static void Heading(string phase, string title) => Console.WriteLine($"\n[{phase}] {title}");

    public static void Note(string text) => Console.WriteLine($"    {text}");

    public void Add(Measurement row)
    {
        _rows.Add(row);
        Console.WriteLine($"    {row.Name,-44} {row.Result,-34} {row.VsBaseline}");
    }

    /// <summary>A rate, compared with the raw rate on as many connections (1, or the concurrent count).</summary>
    public void Throughput(string phase, string name, double perSecond, string unit, int clients, string? note = null)
    {
        var baseline = Baseline ?? throw new InvalidOperationException("The baseline phase must run first.");
        var (raw, label) = clients == 1
            ? (baseline.OneConnection, "1 conn")
            : (baseline.ManyConnections, $"{baseline.Connections} conns");
        Add(new Measurement(phase, name, Invariant($"{perSecond:N0} {unit}{(note is null ? "" : $" ({note})")}"), $"{Percent(perSecond / raw)} of raw tx/s, {label}"));
    }

    /// <summary>A latency, as multiples of one raw single-row commit's p50; <paramref name="verdict"/> says how it compares with an aim.</summary>
    public void Latency(string phase, string name, LatencySummary latency, string? verdict = null)
    {
        var baseline = Baseline ?? throw new InvalidOperationException("The baseline phase must run first.");
        var raw = baseline.OneConnectionLatency.P50;
        Add(new Measurement(phase, name, latency.ToString(), Invariant($"p50 = {latency.P50 / raw:0.0}× raw commit ({raw:0.00} ms){(verdict is null ? "" : $" ({verdict})")}")));
    }

    public string Summary(ServerInfo server, string database)
    {
        var text = new StringBuilder();
        text.AppendLine("## Runtime benchmark");
        text.AppendLine();
        text.AppendLine(Invariant(
            $"- PostgreSQL {server.Version}, {database}: fsync={server.Fsync}, synchronous_commit={server.SynchronousCommit}, full_page_writes={server.FullPageWrites}"));
        text.AppendLine(Invariant($"- {Environment.ProcessorCount} CPUs, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}"));
        text.AppendLine(Invariant(
            $"- {settings.PhaseDuration.TotalSeconds:0.#} s per throughput segment after {settings.Warmup.TotalSeconds:0.#} s warm-up; {settings.Concurrency} concurrent clients; up to {settings.Samples} latency samples; runtime defaults"));
        text.AppendLine();
        text.AppendLine("| Phase | Measure | Result | vs raw PostgreSQL (same run) |");
        text.AppendLine("|---|---|---|---|");
        foreach (var row in _rows)
        {
            text.AppendLine($"| {row.Phase} | {row.Name} | {row.Result} | {row.VsBaseline} |");
        }

        return text.ToString();
    }

    public static string Percent(double ratio) => Invariant($"{ratio * 100:0}%");

    public static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
