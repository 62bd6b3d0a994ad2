using System.Collections.Frozen;
using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>A detector hit in one scanned string: which detector, where (UTF-16 offsets).</summary>
public readonly record struct Finding(string Detector, int Start, int Length);

/// <summary>
/// The detectors of the policy engine: secrets, personal data and prompt injection in the strings a tool call carries.
/// Each detector is named <c>category.name</c>; the names are part of the policy file format, so they never change.
/// </summary>
/// <remarks>
/// Every pattern is written so that a scan stays linear in the input: each starts at a boundary that cannot recur
/// inside the run it then consumes, and repeats are bounded. The match timeout is a backstop, not the plan; when it
/// fires, <see cref="RegexMatchTimeoutException"/> reaches the caller, which treats the call as unscannable.
/// </remarks>
public static partial class Detectors
{
    public const string Secrets = "secrets", Pii = "pii", Injection = "injection";

    // Per match call. A linear pattern needs tens of milliseconds for a megabyte even when every character is a
    // candidate start; only a pattern gone super-linear, or an input of tens of megabytes, comes near a second.
    internal const int MatchTimeoutMilliseconds = 1000;

    // Order is rank: on equal spans the earlier detector wins. Generic detectors (a random-looking token, a phone
    // number) yield to any specific one that overlaps them: a card number is not also a phone number, and the
    // secret after "aws_secret_access_key=" is reported as that, not as some high-entropy token.
    private static readonly Detector[] Table =
    [
        new("secrets.aws_access_key", FindAwsAccessKeys),
        new("secrets.aws_secret_key", FindAwsSecretKeys),
        new("secrets.gcp_api_key", FindGcpApiKeys),
        new("secrets.azure_storage_key", FindAzureStorageKeys),
        new("secrets.github_token", FindGitHubTokens),
        new("secrets.slack_token", FindSlackTokens),
        new("secrets.private_key", FindPrivateKeys),
        new("secrets.jwt", FindJwts),
        new("secrets.high_entropy", FindHighEntropyTokens, Generic: true),
        new("pii.email", FindEmails),
        new("pii.card", FindCards),
        new("pii.iban", FindIbans),
        new("pii.us_ssn", FindUsSsns),
        new("pii.phone", FindPhones, Generic: true),
        new("injection.prompt", FindPromptInjections),
    ];

    internal static readonly FrozenDictionary<string, Detector> ByName = Table.ToFrozenDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>Every detector name, <c>category.name</c>, in rank order.</summary>
    public static IReadOnlyList<string> Names { get; } = Array.AsReadOnly(Table.Select(d => d.Name).ToArray());

    public static IReadOnlyList<string> Categories { get; } = Array.AsReadOnly(new[] { Secrets, Pii, Injection });

    internal static IReadOnlyList<Detector> InRankOrder => Table;

    /// <summary>
    /// A selector is a category (<c>secrets</c>) or a detector name (<c>pii.email</c>): the detector names it stands
    /// for, or null when it names neither. Comparison is ordinal, like the names themselves.
    /// </summary>
    public static IReadOnlyList<string>? Expand(string selector)
    {
        if (ByName.ContainsKey(selector))
        {
            return [selector];
        }

        if (!Categories.Contains(selector, StringComparer.Ordinal))
        {
            return null;
        }

        var prefix = selector + ".";
        return Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
    }

    /// <summary>
    /// Adds each match of <paramref name="regex"/> that <paramref name="isValid"/> accepts, as the span of its
    /// <c>v</c> group when it has one. After a rejected match the search resumes one character later, so a longer
    /// false candidate cannot hide a true one that starts inside it.
    /// </summary>
    private static void AddMatches(Regex regex, string text, string detector, List<Finding> candidates, Func<Match, bool>? isValid = null)
    {
        var at = 0;
        while (at <= text.Length)
        {
            var match = regex.Match(text, at);
            if (!match.Success)
            {
                return;
            }

            if (isValid is null || isValid(match))
            {
                var value = match.Groups["v"];
                Capture span = value.Success ? value : match;
                candidates.Add(new Finding(detector, span.Index, span.Length));
                at = match.Index + Math.Max(match.Length, 1);
            }
            else
            {
                at = match.Index + 1;
            }
        }
    }
}

/// <summary>Appends the candidate findings of one detector in a text; overlaps are resolved by <see cref="DetectorSet"/>.</summary>
internal delegate void CandidateFinder(string text, string detector, List<Finding> candidates);

/// <summary>One detector of the table: its name, its finder, and whether it yields to the specific detectors.</summary>
internal sealed record Detector(string Name, CandidateFinder Find, bool Generic = false)
{
    public void FindCandidates(string text, List<Finding> candidates) => Find(text, Name, candidates);
}
