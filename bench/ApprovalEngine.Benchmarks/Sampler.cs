using System.Diagnostics;

namespace ApprovalEngine.Benchmarks;

/// <summary>Sequential latency samples: a few unrecorded warm-up samples, then up to a count or a time budget, whichever comes first.</summary>
public static class Sampler
{
    public static async Task<List<T>> CollectAsync<T>(BenchSettings settings, Func<CancellationToken, Task<T>> sample, CancellationToken ct)
    {
        for (var i = 0; i < settings.WarmupSamples; i++)
        {
            await sample(ct);
        }

        var samples = new List<T>(settings.Samples);
        var start = Stopwatch.GetTimestamp();
        while (samples.Count < settings.Samples && Stopwatch.GetElapsedTime(start) < settings.LatencyBudget)
        {
            samples.Add(await sample(ct));
        }

        return samples;
    }
}
