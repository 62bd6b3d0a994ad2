using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Cli;

/// <summary>Values given on the command line that need more than System.CommandLine's parsing; bad ones are usage errors.</summary>
internal static class Inputs
{
    /// <summary>A JSON object given inline, as <c>@file</c>, or as <c>@-</c> (standard input).</summary>
    public static JsonObject JsonObject(string value, string option, TextReader input)
    {
        string text;
        string source;
        if (value.StartsWith('@'))
        {
            var path = value[1..];
            source = path == "-" ? "standard input" : path;
            try
            {
                text = path == "-" ? input.ReadToEnd() : File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliFailure(ExitCodes.Usage, $"{option}: cannot read {path}: {e.Message}", e);
            }
        }
        else
        {
            text = value;
            source = "the value";
        }

        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new CliFailure(ExitCodes.Usage, $"{option}: {source} is JSON but not an object; give {{\"name\": value, ...}}.");
        }
        catch (JsonException e)
        {
            throw new CliFailure(ExitCodes.Usage, $"{option}: {source} is not JSON: {e.Message}", e);
        }
    }

    /// <summary>An ISO 8601 date or time (UTC unless it says otherwise), in the round-trip form the API reads.</summary>
    public static string? Instant(string? value, string option)
    {
        if (value is null)
        {
            return null;
        }

        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture)
            : throw new CliFailure(ExitCodes.Usage, $"{option}: '{value}' is not a date or time; write e.g. 2026-05-01 or 2026-05-01T12:00:00Z.");
    }

    /// <summary>A query string from the given pairs, leaving out those without a value.</summary>
    public static string Query(string path, params (string Name, string? Value)[] parameters)
    {
        var given = parameters.Where(p => !string.IsNullOrEmpty(p.Value)).Select(p => $"{Uri.EscapeDataString(p.Name)}={Uri.EscapeDataString(p.Value!)}").ToList();
        return given.Count == 0 ? path : $"{path}?{string.Join('&', given)}";
    }
}
