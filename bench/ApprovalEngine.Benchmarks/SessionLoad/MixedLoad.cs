using System.Diagnostics;
using System.Globalization;

namespace ApprovalEngine.Benchmarks.SessionLoad;

/// <summary>One finished call: when it ended and how long it took (<see cref="Stopwatch"/> ticks), which kind, and how it ended.</summary>
internal readonly record struct CallSample(long EndedAt, long Ticks, bool Gated, string? Error);

/// <summary>The calls of the measured window: counts, latency of each kind, errors by kind.</summary>
public sealed record MixFigures(
    int Sessions, TimeSpan Window, long Allowed, long Gated, LatencySummary AllowedLatency, LatencySummary GatedLatency, LatencySummary AllLatency,
    IReadOnlyDictionary<string, long> Errors, long ErrorsOutside, long LateCalls, long Started)
{
    public long Calls => Allowed + Gated;

    public long ErrorCount => Errors.Values.Sum();

    /// <summary>Calls answered with the echo, per second of the window.</summary>
    public double PerSecond => Calls / Window.TotalSeconds;

    public double GatedPerSecond => Gated / Window.TotalSeconds;

    public string ErrorLine => Errors.Count == 0 ? "none" : string.Join(", ", Errors.OrderByDescending(e => e.Value).Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Key} ×{e.Value:N0}")));
}

/// <summary>
/// Many sessions, each calling in a closed loop: a call is gated with probability <c>gatedShare</c> (a text of its own
/// starting with <c>gated-</c>), else allowed (<c>hello</c>). The load runs without a pause from the warm-up into the
/// measured window; only calls that end inside the window count. At its end no session starts another call, and the
/// calls in flight finish (bounded by the call timeout) so that nothing is left held.
/// </summary>
public static class MixedLoad
{
    public const string GatedPrefix = Gated.GatedCluster.GatedPrefix;

    /// <param name="windowStarts">Called when the measured window starts (after the warm-up), e.g. to read CPU times.</param>
    /// <param name="windowEnds">Called when it ends, while the calls in flight are still running.</param>
    public static async Task<MixFigures> RunAsync(
        IReadOnlyList<RawSession> sessions, string tool, double gatedShare, TimeSpan warmup, TimeSpan window,
        Action windowStarts, Action windowEnds, Action<string> progress, CancellationToken ct)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var begun = Stopwatch.GetTimestamp();
        var from = begun + Ticks(warmup);
        var to = from + Ticks(window);
        var samples = new List<CallSample>[sessions.Count];
        long started = 0;

        async Task SessionAsync(int index)
        {
            var random = new Random(index);
            var mine = samples[index] = new List<CallSample>(1024);
            for (var n = 0; Stopwatch.GetTimestamp() < to; n++)
            {
                var gated = random.NextDouble() < gatedShare;
                var text = gated ? string.Create(CultureInfo.InvariantCulture, $"{GatedPrefix}{run}-{index}-{n}") : "hello";
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(LoadSettings.CallTimeout);
                Interlocked.Increment(ref started);
                var before = Stopwatch.GetTimestamp();
                CallOutcome outcome;
                try
                {
                    outcome = await sessions[index].CallEchoAsync(tool, text, timeout.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    outcome = CallOutcome.Failed("timeout");
                }

                var after = Stopwatch.GetTimestamp();
                mine.Add(new CallSample(after, after - before, gated, outcome.Error));
            }
        }

        var marks = Task.Run(async () =>
        {
            await Task.Delay(warmup, ct);
            windowStarts();
            await Task.Delay(window, ct);
            windowEnds();
        }, ct);
        using (new Ticker(TimeSpan.FromSeconds(10), () =>
        {
            var now = Stopwatch.GetTimestamp();
            var phase = now < from ? "warm-up" : now < to ? "measuring" : "finishing";
            progress(string.Create(CultureInfo.InvariantCulture, $"  {Stopwatch.GetElapsedTime(begun).TotalSeconds:0} s, {phase}: {Interlocked.Read(ref started):N0} calls started"));
        }))
        {
            await Task.WhenAll(Enumerable.Range(0, sessions.Count).Select(i => Task.Run(() => SessionAsync(i), ct)));
        }

        await marks;

        var all = samples.SelectMany(s => s).ToList();
        var inWindow = all.Where(s => s.EndedAt >= from && s.EndedAt < to).ToList();
        var ok = inWindow.Where(s => s.Error is null).ToList();
        return new MixFigures(
            sessions.Count,
            window,
            ok.LongCount(s => !s.Gated),
            ok.LongCount(s => s.Gated),
            LatencySummary.FromTicks([.. ok.Where(s => !s.Gated).Select(s => s.Ticks)]),
            LatencySummary.FromTicks([.. ok.Where(s => s.Gated).Select(s => s.Ticks)]),
            LatencySummary.FromTicks([.. ok.Select(s => s.Ticks)]),
            inWindow.Where(s => s.Error is not null).GroupBy(s => s.Error!).ToDictionary(g => g.Key, g => g.LongCount()),
            all.LongCount(s => s.Error is not null && (s.EndedAt < from || s.EndedAt >= to)),
            all.LongCount(s => s.EndedAt >= to),
            Interlocked.Read(ref started));
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Runs <paramref name="tick"/> every <paramref name="period"/> until disposed.</summary>
    private sealed class Ticker(TimeSpan period, Action tick) : IDisposable
    {
        private readonly Timer _timer = new(_ => tick(), null, period, period);

        public void Dispose() => _timer.Dispose();
    }
}
