using System.Globalization;

namespace ApprovalEngine.Benchmarks;

/// <summary>Command-line settings of one benchmark run. Every phase is bounded by <see cref="PhaseDuration"/> or <see cref="Samples"/>.</summary>
public sealed record BenchSettings
{
    public const string Usage = """
        Usage: ApprovalEngine.Benchmarks runtime [options]
          --seconds N        measured duration of each throughput segment (default 5)
          --concurrency N    clients (and raw connections) of the concurrent segments (default 8)
          --samples N        samples of each latency phase (default 300; fewer if max(5, 2 × seconds) s pass first)
          --connection CS    use this PostgreSQL instead of starting a local one; needs CREATEDB
                             (one database per phase is created and dropped)
        """;

    public TimeSpan PhaseDuration { get; init; } = TimeSpan.FromSeconds(5);

    public int Concurrency { get; init; } = 8;

    public int Samples { get; init; } = 300;

    public string? ConnectionString { get; init; }

    /// <summary>Unmeasured run before each throughput segment: JIT, connection pools, caches.</summary>
    public TimeSpan Warmup => TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, PhaseDuration.Ticks / 5));

    /// <summary>Most time a latency phase spends sampling; on a slow box it reports fewer than <see cref="Samples"/>.</summary>
    public TimeSpan LatencyBudget => TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(5).Ticks, PhaseDuration.Ticks * 2));

    /// <summary>Warm-up samples of each latency phase, not recorded.</summary>
    public int WarmupSamples => Math.Min(30, Math.Max(5, Samples / 10));

    /// <summary>Parse <c>runtime [--seconds N] [--concurrency N] [--samples N] [--connection CS]</c>; the error names the bad argument.</summary>
    public static (BenchSettings? Settings, string? Error) Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0] != "runtime")
        {
            return (null, args.Count == 0 ? "Missing the benchmark name." : $"Unknown benchmark '{args[0]}'.");
        }

        var settings = new BenchSettings();
        for (var i = 1; i < args.Count; i += 2)
        {
            var name = args[i];
            if (i + 1 >= args.Count)
            {
                return (null, $"{name} needs a value.");
            }

            var value = args[i + 1];
            switch (name)
            {
                case "--seconds" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s is > 0 and <= 60:
                    settings = settings with { PhaseDuration = TimeSpan.FromSeconds(s) };
                    break;
                case "--concurrency" when int.TryParse(value, CultureInfo.InvariantCulture, out var c) && c is >= 1 and <= 64:
                    settings = settings with { Concurrency = c };
                    break;
                case "--samples" when int.TryParse(value, CultureInfo.InvariantCulture, out var n) && n is >= 10 and <= 100_000:
                    settings = settings with { Samples = n };
                    break;
                case "--connection" when !string.IsNullOrWhiteSpace(value):
                    settings = settings with { ConnectionString = value };
                    break;
                case "--seconds" or "--concurrency" or "--samples" or "--connection":
                    return (null, $"Invalid value '{value}' for {name} (seconds: 0-60, concurrency: 1-64, samples: 10-100000).");
                default:
                    return (null, $"Unknown option '{name}'.");
            }
        }

        return (settings, null);
    }
}
