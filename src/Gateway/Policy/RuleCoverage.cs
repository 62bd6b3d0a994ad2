using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>
/// Whether one rule's match is certain to include another's: then the later rule can never match if the earlier one
/// decides. Conservative: "covers" is reported only when it is certain, so a false alarm never blocks a valid file.
/// </summary>
internal static class RuleCoverage
{
    public static bool Covers(RuleMatch earlier, RuleMatch later)
    {
        // Argument conditions and detectors could be compared too, but an earlier rule that has them is rarely a catch-all.
        if (earlier.DependsOnArguments)
        {
            return false;
        }

        return Superset(earlier.Agents, later.Agents)
            && Superset(earlier.Groups, later.Groups)
            && Superset(earlier.Bundles, later.Bundles)
            && Superset(earlier.Upstreams, later.Upstreams)
            && ToolsCover(earlier.Tools, later.Tools)
            && earlier.Annotations.All(hint => later.Annotations.TryGetValue(hint.Key, out var value) && value == hint.Value);
    }

    /// <summary>An empty list matches anything; otherwise the later list must be given and be a subset.</summary>
    private static bool Superset(IReadOnlyList<string> earlier, IReadOnlyList<string> later) =>
        earlier.Count == 0 || (later.Count > 0 && later.All(item => earlier.Contains(item, StringComparer.Ordinal)));

    private static bool ToolsCover(IReadOnlyList<string> earlier, IReadOnlyList<string> later) =>
        earlier.Count == 0 || (later.Count > 0 && later.All(pattern => earlier.Any(glob => GlobCovers(glob, pattern))));

    private static bool GlobCovers(string glob, string pattern)
    {
        if (string.Equals(glob, pattern, StringComparison.Ordinal) || glob == "*")
        {
            return true;
        }

        if (!Checks.HasWildcard(pattern))
        {
            return Glob.IsMatch(glob, pattern);
        }

        // fs__* covers fs__write_*: a trailing star after a literal prefix covers every pattern with that prefix.
        var prefix = glob[..^1];
        return glob.EndsWith('*') && !Checks.HasWildcard(prefix) && pattern.StartsWith(prefix, StringComparison.Ordinal);
    }
}
