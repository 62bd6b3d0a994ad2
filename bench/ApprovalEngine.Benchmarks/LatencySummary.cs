using System.Diagnostics;
using System.Globalization;

namespace ApprovalEngine.Benchmarks;

/// <summary>Percentiles of latency samples (nearest rank on the sorted samples), in milliseconds.</summary>
public sealed record LatencySummary(int Count, double P50, double P90, double P99, double Max, double Mean)
{
    public static LatencySummary Empty { get; } = new(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);

    /// <summary>From <see cref="Stopwatch.GetTimestamp"/> differences.</summary>
    public static LatencySummary FromTicks(IReadOnlyCollection<long> ticks)
    {
        if (ticks.Count == 0)
        {
            return Empty;
        }

        var sorted = ticks.Order().Select(t => t * 1000.0 / Stopwatch.Frequency).ToArray();
        return new LatencySummary(sorted.Length, Rank(sorted, 0.50), Rank(sorted, 0.90), Rank(sorted, 0.99), sorted[^1], sorted.Average());
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"p50 {P50:0.00} ms · p99 {P99:0.00} ms · N={Count}");

    private static double Rank(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
