namespace ApprovalEngine.Gateway.Mcp;

/// <summary>The MCP revisions agents may speak to the gateway (the SDK's own list is internal).</summary>
internal static class ProtocolVersions
{
    /// <summary>The first revision without sessions: each request carries its metadata and gets its own server.</summary>
    public const string Stateless = "2026-07-28";

    public static readonly string[] Supported = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", Stateless];

    public static bool IsSupported(string version) => Supported.Contains(version, StringComparer.Ordinal);

    // Revisions are dates, so their order is the strings' order.
    public static bool IsStateless(string version) => version.Length > 0 && string.CompareOrdinal(version, Stateless) >= 0;
}
