
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
        var (settings, error) = BenchArguments.Parse(
            args,
            "runtime",
            new BenchSettings(),
            ["--seconds", "--concurrency", "--samples", "--connection"],
            "seconds: 0-60, concurrency: 1-64, samples: 10-100000",
            static (settings, name, value) => name switch
            {
                "--seconds" when BenchArguments.Number(value) is { } s and > 0 and <= 60 => settings with { PhaseDuration = TimeSpan.FromSeconds(s) },
                "--concurrency" when BenchArguments.Whole(value) is { } c and >= 1 and <= 64 => settings with { Concurrency = c },
                "--samples" when BenchArguments.Whole(value) is { } n and >= 10 and <= 100_000 => settings with { Samples = n },
                "--connection" when !string.IsNullOrWhiteSpace(value) => settings with { ConnectionString = value },
                _ => null,
            });
        return (settings, error);
    }
}
