using System.Buffers.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>Credentials with a recognizable shape: cloud keys, platform tokens, PEM private keys, JWTs.</summary>
public static partial class Detectors
{
    private const RegexOptions Exact = RegexOptions.CultureInvariant;

    // The documented key-id prefixes (access keys, session keys, roles, users, groups...), then 16 upper-case
    // characters; word-bounded so a longer identifier that merely contains one is not a key.
    [GeneratedRegex(@"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}\b", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex AwsAccessKey();

    // Forty base64 characters are everywhere (hashes, ids); they are an AWS secret only after a label that says so, in
    // the same string: aws_secret_access_key=..., "SecretAccessKey": "...", --aws-secret-access-key ...
    [GeneratedRegex("""
        (?i:\b(?:aws[_.-]?secret[_.-]?(?:access[_.-]?)?key|secret[_.-]?access[_.-]?key))["']?
        (?:\s{0,16}(?:=>|:=|[:=])\s{0,16}|\s{1,16})["']?
        (?<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])
        """, Exact | RegexOptions.IgnorePatternWhitespace, MatchTimeoutMilliseconds)]
    private static partial Regex AwsSecretKey();

    [GeneratedRegex(@"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex GcpApiKey();

    // A storage account key is 64 random bytes: 88 base64 characters ending in "==". Only the key is reported, so a
    // redacted connection string still names the account.
    [GeneratedRegex(@"(?<![A-Za-z0-9])(?i:AccountKey)\s{0,8}=\s{0,8}(?<v>[A-Za-z0-9+/]{86}==)(?![A-Za-z0-9+/=])", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex AzureStorageKey();

    // Classic tokens are a prefix and 36 base62 characters (a longer run is allowed: the format has grown before);
    // fine-grained tokens are github_pat_ and about 82 characters with underscores.
    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,244})(?![A-Za-z0-9_])", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex GitHubToken();

    // Tokens: a type prefix, a numeric workspace or app part, then dash-separated parts ending in a long random one,
    // so "xoxb-your-token-here" in a README is not one. Webhooks: the three path parts after /services/.
    [GeneratedRegex("""
        (?<![A-Za-z0-9_-])(?:xox[abprs]|xapp)-[0-9]{1,20}-(?:[A-Za-z0-9]{1,64}-){0,5}[A-Za-z0-9]{8,128}(?![A-Za-z0-9_-])
        | (?<![A-Za-z0-9./-])(?:https?://)?hooks\.slack\.com/services/T[A-Z0-9]{6,16}/B[A-Z0-9]{6,16}/[A-Za-z0-9]{16,64}(?![A-Za-z0-9])
        """, Exact | RegexOptions.IgnorePatternWhitespace, MatchTimeoutMilliseconds)]
    private static partial Regex SlackToken();

    // PKCS#1 (RSA), SEC1 (EC), DSA, PKCS#8 (plain and ENCRYPTED), OpenSSH and PGP armour all share this header.
    [GeneratedRegex(@"-----BEGIN (?:[A-Z0-9]{2,10} ){0,2}PRIVATE KEY(?: BLOCK)?-----", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex PrivateKeyBegin();

    [GeneratedRegex(@"-----END (?:[A-Z0-9]{2,10} ){0,2}PRIVATE KEY(?: BLOCK)?-----", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex PrivateKeyEnd();

    // Three base64url parts; the unsecured form ("alg": "none") has an empty third. The header is what tells a JWT
    // from any other dotted name, so it is decoded and checked (IsJwtHeader). Being a JSON object, it starts "ey"
    // ('{"' or '{ ') or "ew" ('{' and a line break), which spares trying every word.
    [GeneratedRegex(@"(?<![A-Za-z0-9_-])(?<h>e[wy][A-Za-z0-9_-]{8,4094})\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex JwtShape();

    private static void FindAwsAccessKeys(string text, string detector, List<Finding> candidates) =>
        AddMatches(AwsAccessKey(), text, detector, candidates, IsNotPlaceholder);

    private static void FindAwsSecretKeys(string text, string detector, List<Finding> candidates) =>
        AddMatches(AwsSecretKey(), text, detector, candidates, IsNotPlaceholder);

    private static void FindGcpApiKeys(string text, string detector, List<Finding> candidates) =>
        AddMatches(GcpApiKey(), text, detector, candidates, IsNotPlaceholder);

    private static void FindAzureStorageKeys(string text, string detector, List<Finding> candidates) =>
        AddMatches(AzureStorageKey(), text, detector, candidates, IsNotPlaceholder);

    private static void FindGitHubTokens(string text, string detector, List<Finding> candidates) =>
        AddMatches(GitHubToken(), text, detector, candidates, IsNotPlaceholder);

    private static void FindSlackTokens(string text, string detector, List<Finding> candidates) =>
        AddMatches(SlackToken(), text, detector, candidates, IsNotPlaceholder);

    private static void FindJwts(string text, string detector, List<Finding> candidates) =>
        AddMatches(JwtShape(), text, detector, candidates, m => IsJwtHeader(m.Groups["h"].ValueSpan));

    /// <summary>
    /// Documentation and templates are full of well-formed stand-ins ("AKIAXXXXXXXXXXXXXXXX", "ghp_xxxx...",
    /// "T00000000/B00000000/XXXX..."); six equal characters in a row almost never occur in a random token.
    /// </summary>
    private static bool IsNotPlaceholder(Match match)
    {
        var value = match.ValueSpan;
        var run = 1;
        for (var i = 1; i < value.Length; i++)
        {
            run = value[i] == value[i - 1] ? run + 1 : 1;
            if (run >= 6)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A key runs from its BEGIN line through the matching END line, so redaction removes the key material and not just
    /// its label. Without an END line the rest of the text is taken: a truncated key is still a key, and failing wide
    /// is the safe side.
    /// </summary>
    private static void FindPrivateKeys(string text, string detector, List<Finding> candidates)
    {
        var at = 0;
        while (at < text.Length)
        {
            var begin = PrivateKeyBegin().Match(text, at);
            if (!begin.Success)
            {
                return;
            }

            // Each search resumes after the END it found, so every character is read a bounded number of times.
            var end = PrivateKeyEnd().Match(text, begin.Index + begin.Length);
            var stop = end.Success ? end.Index + end.Length : text.Length;
            candidates.Add(new Finding(detector, begin.Index, stop - begin.Index));
            at = stop;
        }
    }

    /// <summary>Whether a base64url segment decodes to a JSON object with a string <c>alg</c>: a JOSE header.</summary>
    internal static bool IsJwtHeader(ReadOnlySpan<char> segment)
    {
        // A real header is tens of bytes; the bound keeps a long dotted token from costing a large decode.
        const int MaxHeaderChars = 4096;
        if (segment.Length > MaxHeaderChars || segment.Length < 4)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[Base64Url.GetMaxDecodedLength(segment.Length)];
        if (Base64Url.DecodeFromChars(segment, bytes, out _, out var written) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        try
        {
            // The whole header must parse: '{"alg":"HS256"' cut short is some other token that happens to start alike.
            using var header = JsonDocument.Parse(bytes[..written].ToArray());
            return header.RootElement.ValueKind == JsonValueKind.Object
                && header.RootElement.TryGetProperty("alg"u8, out var alg)
                && alg.ValueKind == JsonValueKind.String;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
