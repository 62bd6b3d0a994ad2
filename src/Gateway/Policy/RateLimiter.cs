using System.Collections.Concurrent;
using System.Text;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>
/// Exact sliding-window counts for rate-limit rules: each budget keeps the times of its last <c>calls</c> admitted
/// calls, and a call is admitted when the oldest of them left the window. Kept in memory by each gateway process, so
/// with several nodes each node enforces the limit on its own; budgets of a rule survive reloads while its limit is unchanged.
/// </summary>
public sealed class RateLimiter(TimeProvider time)
{
    // Budgets idle for a whole window hold nothing that matters; they are dropped every so many calls.
    private const int SweepEvery = 4096;

    private readonly ConcurrentDictionary<string, Budget> budgets = new(StringComparer.Ordinal);
    private int callsSinceSweep;

    public int Count => budgets.Count;

    /// <summary>Counts the call against its budget; false (with when to retry) when the budget is spent.</summary>
    public bool TryAcquire(PolicyRule rule, PolicyCall call, out TimeSpan retryAfter)
    {
        var spec = rule.RateLimit ?? throw new ArgumentException($"rule '{rule.Name}' is not a rate-limit rule", nameof(rule));
        var now = time.GetTimestamp();
        var budget = budgets.GetOrAdd(Key(rule, spec, call), static (_, s) => new Budget(s.Calls), spec);
        if (Interlocked.Increment(ref callsSinceSweep) >= SweepEvery)
        {
            Sweep(now);
        }

        return budget.TryTake(now, (long)(spec.Window.TotalSeconds * time.TimestampFrequency), time.TimestampFrequency, out retryAfter);
    }

    private void Sweep(long now)
    {
        Volatile.Write(ref callsSinceSweep, 0);
        foreach (var (key, budget) in budgets)
        {
            if (budget.Expired(now))
            {
                budgets.TryRemove(key, out _);
            }
        }
    }

    private static string Key(PolicyRule rule, RateLimitSpec spec, PolicyCall call)
    {
        var key = new StringBuilder(rule.Name).Append('\u001f').Append(spec.Calls).Append('/').Append(spec.Window.Ticks);
        foreach (var part in spec.By)
        {
            key.Append('\u001f').Append(part switch
            {
                RateLimitKey.Agent => call.Agent.Id,
                RateLimitKey.Tool => call.ToolName,
                RateLimitKey.Bundle => call.Bundle,
                _ => call.Upstream,
            });
        }

        return key.ToString();
    }

    private sealed class Budget(int calls)
    {
        private readonly long[] admitted = new long[calls];
        private readonly Lock gate = new();
        private int next;
        private int filled;
        private long windowTicks;

        public bool TryTake(long now, long window, long frequency, out TimeSpan retryAfter)
        {
            lock (gate)
            {
                windowTicks = window;

                // The slot to reuse holds the oldest admitted call once the ring is full.
                if (filled == admitted.Length && now - admitted[next] < window)
                {
                    retryAfter = TimeSpan.FromSeconds((double)(admitted[next] + window - now) / frequency);
                    return false;
                }

                admitted[next] = now;
                next = (next + 1) % admitted.Length;
                filled = Math.Min(filled + 1, admitted.Length);
                retryAfter = TimeSpan.Zero;
                return true;
            }
        }

        public bool Expired(long now)
        {
            lock (gate)
            {
                var newest = admitted[(next + admitted.Length - 1) % admitted.Length];
                return filled == 0 || now - newest >= windowTicks;
            }
        }
    }
}
