namespace ApprovalEngine.Gateway.Security;

/// <summary>The <c>Authorization: Bearer</c> scheme (RFC 6750) as agents and people both use it.</summary>
internal static class Bearer
{
    public const string Realm = "approval-engine";

    /// <summary>The bearer token of the request, or null when there is none (or another scheme is used).</summary>
    public static string? TokenOf(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && header.Length > scheme.Length
            ? header[scheme.Length..].Trim()
            : null;
    }

    /// <summary>
    /// The <c>WWW-Authenticate</c> value of a 401: the scheme and realm, plus <c>error="invalid_token"</c> and
    /// <paramref name="invalidTokenDescription"/> only when a token was actually presented (RFC 6750 section 3.1).
    /// </summary>
    public static string Challenge(string? invalidTokenDescription) =>
        invalidTokenDescription is null
            ? $"Bearer realm=\"{Realm}\""
            : $"Bearer realm=\"{Realm}\", error=\"invalid_token\", error_description=\"{invalidTokenDescription}\"";
}
