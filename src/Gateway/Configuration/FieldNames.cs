namespace ApprovalEngine.Gateway.Configuration;

/// <summary>Messages for misspelt names: the closest known name when it is within two edits.</summary>
internal static class FieldNames
{
    private const int MaxSuggestionDistance = 2;

    public static string Unknown(string name, IReadOnlyCollection<string> known) =>
        Closest(name, known) is { } closest
            ? $"unknown field \"{name}\"; did you mean \"{closest}\"?"
            : $"unknown field \"{name}\"; expected one of: {string.Join(", ", known)}";

    /// <summary>"; did you mean "x"?" when a known name is close, otherwise empty.</summary>
    public static string Suggestion(string name, IReadOnlyCollection<string> known) =>
        Closest(name, known) is { } closest ? $"; did you mean \"{closest}\"?" : string.Empty;

    public static string? Closest(string name, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = MaxSuggestionDistance + 1;
        foreach (var candidate in known)
        {
            var distance = Distance(name.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return best;
    }

    /// <summary>Levenshtein distance (insert, delete, substitute), two rows at a time.</summary>
    public static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
