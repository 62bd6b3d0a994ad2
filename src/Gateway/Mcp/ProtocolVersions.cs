using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>The MCP revisions agents may speak to the gateway (the SDK's own list is internal).</summary>
internal static class ProtocolVersions
{
    /// <summary>The first revision without sessions: each request carries its metadata and gets its own server.</summary>
    public const string Stateless = "2026-07-28";

    public static readonly string[] Supported = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", Stateless];

    public static bool IsSupported(string version) => Supported.Contains(version, StringComparer.Ordinal);

    /// <summary>The <c>data</c> of an UnsupportedProtocolVersion error (-32022): what a client may retry with.</summary>
    public static JsonElement Unsupported(string requested) =>
        JsonSerializer.SerializeToElement(new JsonObject { ["supported"] = new JsonArray([.. Supported.Select(v => JsonValue.Create(v))]), ["requested"] = requested }, McpJsonUtilities.DefaultOptions);

    // Revisions are dates, so their order is the strings' order.
    public static bool IsStateless(string version) => version.Length > 0 && string.CompareOrdinal(version, Stateless) >= 0;
}
