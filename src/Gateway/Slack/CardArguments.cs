using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Policy;

namespace ApprovalEngine.Gateway.Slack;

/// <summary>
/// The arguments as a card shows them: detected secrets masked wherever they are (<c>[redacted:secrets.…]</c>), values
/// under secret-looking keys redacted and long strings cut as the audit does, then pretty-printed. The card truncates
/// the result to what Slack accepts; the console shows the rest to those allowed to see it.
/// </summary>
internal static class CardArguments
{
    private static readonly DetectorSet SecretDetectors = DetectorSet.Create(Detectors.Expand(Detectors.Secrets)!);

    private static readonly JsonSerializerOptions Pretty = new()
    {
        WriteIndented = true,

        // People read this; the card escapes what Slack's mrkdwn needs escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Mask(JsonElement arguments, IArgumentRedactor redactor)
    {
        JsonNode? masked;
        try
        {
            masked = MaskStrings(arguments);
        }
        catch (RegexMatchTimeoutException)
        {
            // Fail closed: a card that shows no arguments is better than one that may show a secret.
            return "(the arguments could not be checked for secrets; see the console)";
        }

        using var redacted = JsonDocument.Parse(redactor.Redact(JsonSerializer.SerializeToElement(masked)));
        return JsonSerializer.Serialize(redacted.RootElement, Pretty);
    }

    private static JsonNode? MaskStrings(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return JsonValue.Create(SecretDetectors.Redact(value.GetString()!, new HashSet<string>(StringComparer.Ordinal)));
            case JsonValueKind.Array:
                var array = new JsonArray();
                foreach (var item in value.EnumerateArray())
                {
                    array.Add(MaskStrings(item));
                }

                return array;
            case JsonValueKind.Object:
                var obj = new JsonObject();
                foreach (var property in value.EnumerateObject())
                {
                    obj[property.Name] = MaskStrings(property.Value);
                }

                return obj;
            case JsonValueKind.Undefined:
                return new JsonObject();
            default:
                return JsonNode.Parse(value.GetRawText());
        }
    }
}
