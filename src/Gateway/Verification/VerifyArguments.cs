using System.Globalization;

namespace ApprovalEngine.Gateway.Verification;

/// <summary>The arguments of <c>verify</c>. A problem is reported with the argument it is about.</summary>
public sealed record VerifyArguments
{
    private static readonly string[] IsoFormats =
    [
        "yyyy-MM-dd",
        "yyyy-MM-dd'T'HH:mmK",
        "yyyy-MM-dd'T'HH:mm:ssK",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    /// <summary>First creation time included; null: from the beginning.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Creation time where the range ends, excluded; null: up to now.</summary>
    public DateTimeOffset? To { get; init; }

    public bool Json { get; init; }

    public bool Help { get; init; }

    public static bool TryParse(IReadOnlyList<string> args, out VerifyArguments parsed, out string? problem)
    {
        parsed = new VerifyArguments();
        problem = null;
        for (var i = 0; i < args.Count; i++)
        {
            // Both "--from value" and "--from=value".
            var (name, inlineValue) = args[i].Split('=', 2) is [var n, var v] && n.StartsWith("--", StringComparison.Ordinal) ? (n, v) : (args[i], null);
            switch (name)
            {
                case "--from" or "--to":
                    var value = inlineValue ?? (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null);
                    if (value is null)
                    {
                        problem = $"{name} needs a value, an ISO 8601 date or time such as 2025-01-31 or 2025-01-31T08:00:00Z.";
                        return false;
                    }

                    if (!TryParseInstant(value, out var instant))
                    {
                        problem = $"{name}: '{value}' is not an ISO 8601 date or time (such as 2025-01-31 or 2025-01-31T08:00:00Z).";
                        return false;
                    }

                    if ((name == "--from" ? parsed.From : parsed.To) is not null)
                    {
                        problem = $"{name} is given twice.";
                        return false;
                    }

                    parsed = name == "--from" ? parsed with { From = instant } : parsed with { To = instant };
                    break;
                case "--json" when inlineValue is null:
                    parsed = parsed with { Json = true };
                    break;
                case "--help" or "-h" when inlineValue is null:
                    parsed = parsed with { Help = true };
                    break;
                default:
                    problem = $"unknown argument '{args[i]}'.";
                    return false;
            }
        }

        if (parsed is { From: { } from, To: { } to } && from >= to)
        {
            problem = $"--from ({from:O}) must be earlier than --to ({to:O}).";
            return false;
        }

        return true;
    }

    // Without an offset a time is UTC: the database stores instants, and the machine's zone must not change the answer.
    internal static bool TryParseInstant(string value, out DateTimeOffset instant) =>
        DateTimeOffset.TryParseExact(value, IsoFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out instant);
}
