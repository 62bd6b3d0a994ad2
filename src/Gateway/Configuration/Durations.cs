using System.Globalization;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>
/// Durations as written in the configuration: one or more number-unit pairs, such as <c>250ms</c>, <c>30s</c>,
/// <c>5m</c>, <c>1h</c>, <c>1h30m</c> or <c>1.5s</c>. Units: ms, s, m, h, d.
/// </summary>
public static class Durations
{
    public const string Help = "use a number and a unit (ms, s, m, h, d), e.g. 250ms, 30s, 5m, 1h";

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var total = 0.0;
        var position = 0;
        while (position < text.Length)
        {
            var start = position;
            while (position < text.Length && (char.IsAsciiDigit(text[position]) || text[position] == '.'))
            {
                position++;
            }

            if (!double.TryParse(text.AsSpan(start, position - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            var unitStart = position;
            while (position < text.Length && char.IsAsciiLetterLower(text[position]))
            {
                position++;
            }

            double? unit = text.AsSpan(unitStart, position - unitStart) switch
            {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => null,
            };
            if (unit is null)
            {
                return false;
            }

            total += number * unit.Value;
        }

        if (total > TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(total);
        return true;
    }

    /// <summary>Writes a duration the way the configuration does: <c>1h30m</c>, <c>45s</c>, <c>250ms</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            return "0s";
        }

        var text = new System.Text.StringBuilder();
        void Part(long amount, string unit)
        {
            if (amount > 0)
            {
                text.Append(amount.ToString(CultureInfo.InvariantCulture)).Append(unit);
            }
        }

        Part((long)value.TotalDays, "d");
        Part(value.Hours, "h");
        Part(value.Minutes, "m");
        Part(value.Seconds, "s");
        Part(value.Milliseconds, "ms");
        return text.Length == 0 ? "0s" : text.ToString();
    }
}
