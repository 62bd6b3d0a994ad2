using System.Collections.Concurrent;

namespace ApprovalEngine.Notifiers.Slack;

/// <summary>
/// What Slack's 429s said, per Web API method (its limits are per method and workspace): until the Retry-After has
/// passed, calls of that method on this node are not sent at all but answered "rate limited, wait this much longer",
/// so concurrent notify tasks do not keep knocking while one of them waits.
/// </summary>
public sealed class SlackRateLimits(TimeProvider time)
{
    // A task retried "after Retry-After" by the database clock may be claimed a hair before this node's clock gets
    // there; sending it then is not knocking early in any way Slack could tell.
    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(50);

    private readonly ConcurrentDictionary<string, DateTimeOffset> _until = new(StringComparer.Ordinal);

    /// <summary>How much longer <paramref name="method"/> must wait; null when it may be called.</summary>
    public TimeSpan? Remaining(string method)
    {
        if (!_until.TryGetValue(method, out var until))
        {
            return null;
        }

        var left = until - time.GetUtcNow();
        return left > Tolerance ? left : null;
    }

    public void Limited(string method, TimeSpan retryAfter)
    {
        var until = time.GetUtcNow() + retryAfter;
        _until.AddOrUpdate(method, until, (_, current) => current > until ? current : until);
    }
}
