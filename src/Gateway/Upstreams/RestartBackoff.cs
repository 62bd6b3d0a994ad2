namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>Delays between attempts to (re)start an upstream: exponential, capped, jittered.</summary>
public static class RestartBackoff
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(500);

    public static readonly TimeSpan Maximum = TimeSpan.FromSeconds(30);

    /// <summary>A connection that stayed up this long counts as healthy: the next failure starts from <see cref="Initial"/> again.</summary>
    public static readonly TimeSpan StableAfter = TimeSpan.FromMinutes(1);

    // Enough doublings to pass Maximum from Initial; larger attempt numbers cannot overflow the arithmetic.
    private const int MaxExponent = 16;

    /// <summary>
    /// The delay before attempt <paramref name="attempt"/> + 1. The ±20 % jitter keeps upstreams that failed
    /// together (a shared dependency went away) from restarting in lockstep; it never exceeds <see cref="Maximum"/>.
    /// </summary>
    /// <param name="attempt">Failures so far since the last stable connection, from 0.</param>
    /// <param name="random">A uniform sample in [0, 1).</param>
    public static TimeSpan Delay(int attempt, double random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(attempt);
        var exponential = Initial * Math.Pow(2, Math.Min(attempt, MaxExponent));
        var ceiling = exponential < Maximum ? exponential : Maximum;
        var jittered = ceiling * (0.8 + (0.4 * Math.Clamp(random, 0, 1)));
        return jittered < Maximum ? jittered : Maximum;
    }
}
