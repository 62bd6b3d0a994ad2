using System.Text.Json;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>What result handling did to an upstream's result.</summary>
public enum ResultVerdict
{
    Unchanged,
    Redacted,
    Blocked,
}

/// <summary>
/// Applies a <see cref="ResultPolicy"/> to an upstream result: scans the text it carries (text blocks, embedded text
/// resources, structured content) and masks each finding or withholds the result. Binary content (images, audio,
/// blobs) is not scanned.
/// </summary>
public static class ResultFilter
{
    public static CallToolResult Apply(CallToolResult result, ResultPolicy policy, DetectorSet detectors, out ResultVerdict verdict, out IReadOnlySet<string> found)
    {
        var hits = new SortedSet<string>(StringComparer.Ordinal);
        var content = new List<ContentBlock>(result.Content.Count);
        foreach (var block in result.Content)
        {
            content.Add(block switch
            {
                TextContentBlock text => WithText(text, detectors.Redact(text.Text, hits)),
                EmbeddedResourceBlock { Resource: TextResourceContents resource } embedded => WithResourceText(embedded, resource, detectors.Redact(resource.Text, hits)),
                _ => block,
            });
        }

        var structured = result.StructuredContent is { } json ? Redact(json, detectors, hits) : (JsonElement?)null;
        found = hits;
        if (hits.Count == 0)
        {
            verdict = ResultVerdict.Unchanged;
            return result;
        }

        if (policy.Action == ResultAction.Block)
        {
            verdict = ResultVerdict.Blocked;
            return new CallToolResult
            {
                IsError = true,
                Content = [new TextContentBlock { Text = $"The tool's result was withheld by policy: it contained {string.Join(", ", hits)}." }],
            };
        }

        verdict = ResultVerdict.Redacted;
        return new CallToolResult { Content = content, StructuredContent = structured, IsError = result.IsError, Meta = result.Meta };
    }

    private static ContentBlock WithText(TextContentBlock block, string text) =>
        ReferenceEquals(text, block.Text) ? block : new TextContentBlock { Text = text, Annotations = block.Annotations, Meta = block.Meta };

    private static ContentBlock WithResourceText(EmbeddedResourceBlock block, TextResourceContents resource, string text) =>
        ReferenceEquals(text, resource.Text)
            ? block
            : new EmbeddedResourceBlock
            {
                Resource = new TextResourceContents { Uri = resource.Uri, MimeType = resource.MimeType, Text = text, Meta = resource.Meta },
                Annotations = block.Annotations,
                Meta = block.Meta,
            };

    private static JsonElement Redact(JsonElement value, DetectorSet detectors, ISet<string> hits)
    {
        // Not judged by the hit count: the text blocks usually carry the same findings and have filled the set already.
        var changed = false;
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, value, detectors, hits, ref changed);
        }

        if (!changed)
        {
            return value;
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }

    private static void Write(Utf8JsonWriter writer, JsonElement value, DetectorSet detectors, ISet<string> hits, ref bool changed)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                var text = value.GetString()!;
                var redacted = detectors.Redact(text, hits);
                changed |= !ReferenceEquals(text, redacted);
                writer.WriteStringValue(redacted);
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in value.EnumerateArray())
                {
                    Write(writer, item, detectors, hits, ref changed);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var member in value.EnumerateObject())
                {
                    writer.WritePropertyName(member.Name);
                    Write(writer, member.Value, detectors, hits, ref changed);
                }

                writer.WriteEndObject();
                break;
            default:
                value.WriteTo(writer);
                break;
        }
    }
}
