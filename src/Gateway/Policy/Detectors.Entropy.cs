using System.Buffers;
using System.Buffers.Text;
using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>
/// The generic secret detector: a long token that looks random. Tokens are runs of the base64, base64url and API-key
/// alphabets (letters, digits, <c>+ / _ -</c>, trailing <c>=</c> padding); a token is random-looking when it
/// <list type="number">
/// <item>is 24 to 512 characters long (shorter ones are too often ids; longer ones are encoded data, not credentials);</item>
/// <item>mixes lower case, upper case and digits (so hex digests, git SHAs and UUIDs, which have one letter case, never
/// count: they name things rather than unlock them, and tool calls are full of them);</item>
/// <item>has a Shannon entropy of at least 85% of log2 of the number of distinct characters a random base62 string of
/// its length is expected to use (repetitive strings fall short);</item>
/// <item>is not mostly words: camelCase and PascalCase identifiers are made of runs like <c>Callback</c> or
/// <c>handle</c>, which cover most of them and under a fifth of a random token;</item>
/// <item>does not decode as base64 to printable text, and is not an SSH public key blob or an integrity digest.</item>
/// </list>
/// The host and path of a URL and the bodies of public PEM blocks (certificates, public keys) are not scanned; a URL's
/// user-info and query are. Random tokens with a single letter case (base32, lower-case alphanumerics) are not caught
/// here; the specific detectors and the audit's key-based redaction cover the common ones.
/// </summary>
public static partial class Detectors
{
    internal const int MinRandomTokenLength = 24, MaxRandomTokenLength = 512;
    internal const double EntropyFactor = 0.85, MaxWordCoverage = 0.6;

    private static readonly SearchValues<char> Vowels = SearchValues.Create("aeiouyAEIOUY");

    // Public by design: SSH public key blobs ("ssh-ed25519 AAAAC3NzaC1...") and subresource-integrity digests, which
    // fill package-lock.json ("sha512-...").
    private static readonly string[] PublicPrefixes =
        ["AAAAB3NzaC1", "AAAAC3NzaC1", "AAAAE2VjZHNh", "AAAAGnNrLXNzaC1", "AAAAInNrLWVjZHNh", "sha1-", "sha256-", "sha384-", "sha512-"];

    // A run starts where the previous character is not a token character, so a long run is read once.
    [GeneratedRegex(@"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{24,}={0,2}", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex TokenRun();

    [GeneratedRegex(@"\b[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s""'<>\\]*", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex Url();

    [GeneratedRegex(@"-----BEGIN (?:CERTIFICATE|TRUSTED CERTIFICATE|X509 CRL|(?:NEW )?CERTIFICATE REQUEST|(?:RSA |PGP |SSH2 )?PUBLIC KEY(?: BLOCK)?|PGP SIGNATURE)-----", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex PublicPemBegin();

    private static void FindHighEntropyTokens(string text, string detector, List<Finding> candidates)
    {
        List<(int Start, int End)>? skipped = null;
        var next = 0;
        foreach (var run in TokenRun().EnumerateMatches(text))
        {
            if (!LooksRandom(text.AsSpan(run.Index, run.Length)))
            {
                continue;
            }

            // Runs come in start order, so a range that ends before this run ends before every later one too.
            skipped ??= RangesNotScanned(text);
            while (next < skipped.Count && skipped[next].End <= run.Index)
            {
                next++;
            }

            var inSkipped = next < skipped.Count && skipped[next].Start < run.Index + run.Length;
            if (!inSkipped)
            {
                candidates.Add(new Finding(detector, run.Index, run.Length));
            }
        }
    }

    /// <summary>The hosts and paths of URLs and the public PEM blocks of a text, in start order.</summary>
    private static List<(int Start, int End)> RangesNotScanned(string text)
    {
        var ranges = new List<(int Start, int End)>();
        foreach (var url in Url().EnumerateMatches(text))
        {
            var value = text.AsSpan(url.Index, url.Length);
            var hostStart = value.IndexOf("://", StringComparison.Ordinal) + 3;
            var authorityLength = value[hostStart..].IndexOfAny('/', '?', '#');
            var authority = authorityLength < 0 ? value[hostStart..] : value.Slice(hostStart, authorityLength);
            hostStart += authority.LastIndexOf('@') + 1;
            var pathEnd = value[hostStart..].IndexOfAny('?', '#');
            ranges.Add((url.Index + hostStart, url.Index + (pathEnd < 0 ? value.Length : hostStart + pathEnd)));
        }

        var endsRemain = true;
        foreach (var begin in PublicPemBegin().EnumerateMatches(text))
        {
            // Once one block has no END line none after it has one; stopping the search keeps this linear.
            var end = endsRemain ? text.IndexOf("-----END ", begin.Index + begin.Length, StringComparison.Ordinal) : -1;
            endsRemain = end >= 0;
            ranges.Add((begin.Index, endsRemain ? end : begin.Index + begin.Length));
        }

        ranges.Sort();
        return ranges;
    }

    /// <summary>Whether a token passes every test of the high-entropy detector (see the class remarks).</summary>
    internal static bool LooksRandom(ReadOnlySpan<char> token)
    {
        var body = token.TrimEnd('=');
        if (body.Length < MinRandomTokenLength || body.Length > MaxRandomTokenLength
            || !body.ContainsAnyInRange('a', 'z') || !body.ContainsAnyInRange('A', 'Z') || !body.ContainsAnyInRange('0', '9'))
        {
            return false;
        }

        return ShannonEntropy(body) >= EntropyThreshold(body.Length)
            && WordCoverage(body) < MaxWordCoverage
            && !HasPublicPrefix(body)
            && !DecodesToText(body);
    }

    /// <summary>Bits per character of the string's own character distribution.</summary>
    internal static double ShannonEntropy(ReadOnlySpan<char> value)
    {
        Span<int> counts = stackalloc int[128];
        var other = 0;
        foreach (var c in value)
        {
            if (c < 128)
            {
                counts[c]++;
            }
            else
            {
                other++;
            }
        }

        var entropy = 0.0;
        foreach (var count in counts)
        {
            entropy -= Term(count, value.Length);
        }

        return entropy - Term(other, value.Length);

        static double Term(int count, int length)
        {
            if (count == 0)
            {
                return 0;
            }

            var p = (double)count / length;
            return p * Math.Log2(p);
        }
    }

    /// <summary>
    /// 85% of log2 of the distinct characters a random base62 string of this length is expected to use: a token that
    /// uses its characters that evenly is as unpredictable as a random one.
    /// </summary>
    internal static double EntropyThreshold(int length) =>
        EntropyFactor * Math.Log2(62 * (1 - Math.Pow(61.0 / 62, length)));

    /// <summary>The share of the token in word-like runs: a capital or not, then lower-case letters, 3 or more with a vowel.</summary>
    internal static double WordCoverage(ReadOnlySpan<char> token)
    {
        var covered = 0;
        var i = 0;
        while (i < token.Length)
        {
            var start = i;
            if (char.IsAsciiLetterUpper(token[i]))
            {
                i++;
            }

            while (i < token.Length && char.IsAsciiLetterLower(token[i]))
            {
                i++;
            }

            if (i == start)
            {
                i++;
                continue;
            }

            var run = token[start..i];
            if (run.Length >= 3 && run.ContainsAny(Vowels))
            {
                covered += run.Length;
            }
        }

        return (double)covered / token.Length;
    }

    private static bool HasPublicPrefix(ReadOnlySpan<char> token)
    {
        foreach (var prefix in PublicPrefixes)
        {
            if (token.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the token is base64 (either alphabet, padding optional) of printable ASCII: encoded text, not a key.</summary>
    internal static bool DecodesToText(ReadOnlySpan<char> token)
    {
        if (token.Length > MaxRandomTokenLength || ((token.Contains('+') || token.Contains('/')) && (token.Contains('-') || token.Contains('_'))))
        {
            return false;
        }

        Span<char> url = stackalloc char[token.Length];
        token.CopyTo(url);
        url.Replace('+', '-');
        url.Replace('/', '_');
        Span<byte> bytes = stackalloc byte[Base64Url.GetMaxDecodedLength(url.Length)];
        if (Base64Url.DecodeFromChars(url, bytes, out _, out var written) != OperationStatus.Done)
        {
            return false;
        }

        foreach (var b in bytes[..written])
        {
            if (b is (< 0x20 or > 0x7E) and not ((byte)'\t' or (byte)'\n' or (byte)'\r'))
            {
                return false;
            }
        }

        return true;
    }
}
