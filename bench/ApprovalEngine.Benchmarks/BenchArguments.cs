using System.Globalization;

namespace ApprovalEngine.Benchmarks;

/// <summary>The command line every benchmark mode shares: its name, then <c>--option value</c> pairs.</summary>
internal static class BenchArguments
{
    /// <summary>
    /// Applies each <c>--option value</c> pair to <paramref name="initial"/> with <paramref name="apply"/>, which returns
    /// the settings with it applied, or null when the value is out of range. <paramref name="options"/> are the option
    /// names the mode knows; <paramref name="ranges"/> says what values they take, for the error.
    /// </summary>
    public static (T? Settings, string? Error) Parse<T>(
        IReadOnlyList<string> args, string benchmark, T initial, string[] options, string ranges, Func<T, string, string, T?> apply)
        where T : class
    {
        if (args.Count == 0 || args[0] != benchmark)
        {
            return (null, args.Count == 0 ? "Missing the benchmark name." : $"Unknown benchmark '{args[0]}'.");
        }

        var settings = initial;
        for (var i = 1; i < args.Count; i += 2)
        {
            var name = args[i];
            if (!options.Contains(name, StringComparer.Ordinal))
            {
                return (null, $"Unknown option '{name}'.");
            }

            if (i + 1 >= args.Count)
            {
                return (null, $"{name} needs a value.");
            }

            var value = args[i + 1];
            if (apply(settings, name, value) is not { } applied)
            {
                return (null, $"Invalid value '{value}' for {name} ({ranges}).");
            }

            settings = applied;
        }

        return (settings, null);
    }

    public static int? Whole(string value) => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    public static double? Number(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) ? n : null;
}
