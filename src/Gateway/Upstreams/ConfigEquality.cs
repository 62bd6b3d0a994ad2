using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>
/// Value comparison of the configuration an upstream connection is built from. The config records hold lists and
/// dictionaries, which records compare by reference, so every reload would look like a change and restart everything.
/// </summary>
internal static class ConfigEquality
{
    /// <summary>Whether a connection built from <paramref name="a"/> would be the same as one built from <paramref name="b"/>.</summary>
    /// <remarks><see cref="UpstreamConfig.IdempotentTools"/> is policy, not connection, and does not count.</remarks>
    public static bool SameConnection(UpstreamConfig a, UpstreamConfig b) =>
        a.Name == b.Name
        && a.Type == b.Type
        && a.Command == b.Command
        && a.Args.SequenceEqual(b.Args, StringComparer.Ordinal)
        && Same(a.Env, b.Env)
        && a.Cwd == b.Cwd
        && Same(a.Url, b.Url)
        && Same(a.Headers, b.Headers)
        && Same(a.OAuth, b.OAuth)
        && a.Timeout == b.Timeout;

    public static bool Same(AgentCredentials a, AgentCredentials b) => Same(a.Headers, b.Headers) && Same(a.Env, b.Env);

    // Uri equality ignores user info (and fragments), so a changed password in a URL would not count as a change.
    private static bool Same(Uri? a, Uri? b) => a?.OriginalString == b?.OriginalString;

    private static bool Same(OAuthClientConfig? a, OAuthClientConfig? b) =>
        a is null || b is null
            ? a is null && b is null
            : Same(a.TokenUrl, b.TokenUrl) && a.ClientId == b.ClientId && a.ClientSecret == b.ClientSecret && a.Scope == b.Scope;

    private static bool Same(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(pair => b.TryGetValue(pair.Key, out var value) && value == pair.Value);
}
