using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ApprovalEngine.Notifiers.Slack;

/// <summary>What checking a request's Slack signature found.</summary>
public enum SignatureCheck
{
    Valid,

    /// <summary>No <c>X-Slack-Signature</c> or <c>X-Slack-Request-Timestamp</c> header.</summary>
    Unsigned,

    /// <summary>The headers are present but not in Slack's format (<c>v0=</c> + 64 hex digits; unix seconds).</summary>
    Malformed,

    /// <summary>The timestamp is older than the replay window.</summary>
    Stale,

    /// <summary>The timestamp is further in the future than the replay window.</summary>
    Future,

    /// <summary>Well-formed, in time, and wrong: not signed with our signing secret, or the body was changed.</summary>
    Mismatch,
}

/// <summary>
/// Slack's v0 request signature: HMAC-SHA256 with the app's signing secret over <c>v0:{timestamp}:{raw body}</c>,
/// sent as <c>X-Slack-Signature: v0=&lt;lowercase hex&gt;</c> with <c>X-Slack-Request-Timestamp</c> (unix seconds).
/// </summary>
public static class SlackSignature
{
    public const string SignatureHeader = "X-Slack-Signature";
    public const string TimestampHeader = "X-Slack-Request-Timestamp";

    /// <summary>How far the timestamp may be from our clock, either way: a captured request is useless after this.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    private const string Version = "v0";
    private const int HashBytes = 32;

    /// <summary>The header value Slack would send for <paramref name="body"/> at <paramref name="timestamp"/>.</summary>
    public static string Compute(string signingSecret, string timestamp, ReadOnlySpan<byte> body) =>
        Version + "=" + Convert.ToHexStringLower(Mac(signingSecret, timestamp, body));

    /// <summary>Checks the headers against the raw body (before any form decoding) and <paramref name="now"/>.</summary>
    public static SignatureCheck Verify(string signingSecret, string? timestamp, string? signature, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(signingSecret);
        if (string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signature))
        {
            return SignatureCheck.Unsigned;
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || !signature.StartsWith(Version + "=", StringComparison.Ordinal)
            || signature.Length != Version.Length + 1 + (HashBytes * 2))
        {
            return SignatureCheck.Malformed;
        }

        Span<byte> given = stackalloc byte[HashBytes];
        if (Convert.FromHexString(signature.AsSpan(Version.Length + 1), given, out _, out var written) != System.Buffers.OperationStatus.Done || written != HashBytes)
        {
            return SignatureCheck.Malformed;
        }

        // Before the MAC, so a replayed capture costs no hashing; the window applies both ways (clock skew, forged futures).
        var age = now - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253_402_300_799));
        if (age > Window)
        {
            return SignatureCheck.Stale;
        }

        if (age < -Window)
        {
            return SignatureCheck.Future;
        }

        return CryptographicOperations.FixedTimeEquals(Mac(signingSecret, timestamp, body), given) ? SignatureCheck.Valid : SignatureCheck.Mismatch;
    }

    private static byte[] Mac(string signingSecret, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{Version}:{timestamp}:");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingSecret), message);
    }
}
