using System.Diagnostics;

namespace ApprovalEngine.Benchmarks;

/// <summary>The outcome of a closed-loop run: completed operations, wall time, and every operation's latency.</summary>
public sealed record LoadResult(long Operations, TimeSpan Elapsed, LatencySummary Latency, bool RanDry)
{
    public double PerSecond => Operations / Elapsed.TotalSeconds;

    /// <summary>Every operation's latency in <see cref="Stopwatch"/> ticks, so repeated segments can be pooled.</summary>
    public IReadOnlyList<long> Ticks { get; init; } = [];
}

/// <summary>
/// Closed-loop load: each client runs one operation after another until the deadline. In-flight operations finish
/// (never cancelled, so no aborted statements skew the figure), and the rate is over the time until the last one did.
/// </summary>
public static class Load
{
    /// <param name="operation">
    /// (client index, token) → false when there is nothing left to do (e.g. no pending workflow), which stops that client.
    /// </param>
    public static async Task<LoadResult> RunAsync(int clients, TimeSpan duration, Func<int, CancellationToken, Task<bool>> operation, CancellationToken ct)
    {
        // A stuck operation must not hang the run: generous, but bounded.
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(ct);
        guard.CancelAfter(duration + TimeSpan.FromSeconds(30));

        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var latencies = new List<long>[clients];
        var ranDry = false;
        var tasks = Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            var mine = latencies[client] = new List<long>(4096);
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var before = Stopwatch.GetTimestamp();
                if (!await operation(client, guard.Token))
                {
                    ranDry = true;
                    return;
                }

                mine.Add(Stopwatch.GetTimestamp() - before);
            }
        }, guard.Token)).ToArray();
        await Task.WhenAll(tasks);
        var elapsed = Stopwatch.GetElapsedTime(start);
        var all = latencies.SelectMany(l => l).ToList();
        return new LoadResult(all.Count, elapsed, LatencySummary.FromTicks(all), ranDry) { Ticks = all };
    }
}
