using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Cli;

/// <summary>Writing results: the API's JSON with <c>--json</c>, aligned tables and plain lines otherwise.</summary>
internal static class Output
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Json(TextWriter writer, JsonNode? node) => writer.WriteLine(node?.ToJsonString(Indented) ?? "null");

    /// <summary>Columns padded to their widest cell, two spaces apart; the last column is not padded.</summary>
    public static void Table(TextWriter writer, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.Select(r => headers.Select((_, i) => Cell(i < r.Count ? r[i] : null)).ToArray()).ToList();
        var widths = headers.Select((h, i) => all.Select(r => i < r.Length ? r[i].Length : 0).Append(h.Length).Max()).ToArray();
        WriteRow(writer, headers, widths);
        foreach (var row in all)
        {
            WriteRow(writer, row, widths);
        }
    }

    /// <summary>"label: value" lines with the labels aligned; rows with a null value are left out.</summary>
    public static void Fields(TextWriter writer, IEnumerable<(string Label, string? Value)> fields)
    {
        var shown = fields.Where(f => f.Value is not null).ToList();
        var width = shown.Count == 0 ? 0 : shown.Max(f => f.Label.Length) + 1;
        foreach (var (label, value) in shown)
        {
            writer.WriteLine($"{(label + ":").PadRight(width)} {value}");
        }
    }

    /// <summary>A property as text: strings as they are, other values as compact JSON, missing or null as null.</summary>
    public static string? Text(JsonNode? node, string property) => Get(node, property) switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        var other => other.ToJsonString(),
    };

    /// <summary>Like <see cref="Text"/>, with "-" for nothing, for table cells.</summary>
    public static string Cell(JsonNode? node, string property) => Text(node, property) is { Length: > 0 } text ? text : "-";

    /// <summary>A property of an object; null when the node is not an object (an unexpected answer never throws).</summary>
    public static JsonNode? Get(JsonNode? node, string property) => (node as JsonObject)?[property];

    public static bool IsTrue(JsonNode? node, string property) => Get(node, property) is JsonValue value && value.TryGetValue<bool>(out var flag) && flag;

    public static string List(JsonNode? node, string property) =>
        Get(node, property) is JsonArray array && array.Count > 0 ? string.Join(", ", array.Select(a => a?.ToString())) : "-";

    /// <summary>A timestamp as UTC to the second, with how far it is from now: "2026-05-01 10:00:00Z (in 59m)".</summary>
    public static string Time(JsonNode? node, string property, DateTimeOffset now, bool relative = false)
    {
        if (Text(node, property) is not { } text || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return "-";
        }

        var absolute = at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return relative ? $"{absolute} ({Relative(at - now)})" : absolute;
    }

    /// <summary>"in 3h05m" / "12m ago" / "now".</summary>
    public static string Relative(TimeSpan span)
    {
        var length = span.Duration();
        var text = length.TotalDays >= 1 ? $"{(int)length.TotalDays}d{length.Hours:00}h"
            : length.TotalHours >= 1 ? $"{(int)length.TotalHours}h{length.Minutes:00}m"
            : length.TotalMinutes >= 1 ? $"{(int)length.TotalMinutes}m"
            : length.TotalSeconds >= 1 ? $"{(int)length.TotalSeconds}s"
            : null;
        return text is null ? "now" : span > TimeSpan.Zero ? $"in {text}" : $"{text} ago";
    }

    private static string Cell(string? value)
    {
        // One row per line: newlines and tabs in a reason or a path would break the columns.
        var flat = (value ?? "-").ReplaceLineEndings(" ").Replace('\t', ' ');
        return flat.Length > 60 ? flat[..59] + "…" : flat;
    }

    private static void WriteRow(TextWriter writer, IReadOnlyList<string> cells, int[] widths)
    {
        var last = widths.Length - 1;
        var line = string.Join("  ", widths.Select((w, i) => i == last ? cells[i] : cells[i].PadRight(w)));
        writer.WriteLine(line.TrimEnd());
    }
}
