using ApprovalEngine.Gateway.Humans;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>
/// People may also authenticate with a JWT from an OpenID Connect identity provider: signed by a key from the
/// issuer's JWKS, for our audience, within its lifetime. The person is the token's email claim; their roles are those
/// of the matching <c>users:</c> entry plus those its roles claim maps to.
/// </summary>
public sealed record OidcConfig
{
    public const string DefaultEmailClaim = "email";
    public static readonly TimeSpan DefaultClockSkew = TimeSpan.FromMinutes(2);

    /// <summary>The tokens' <c>iss</c>, exactly.</summary>
    public required string Issuer { get; init; }

    /// <summary>The tokens' <c>aud</c> must contain this (the client id or API identifier registered for the gateway).</summary>
    public required string Audience { get; init; }

    /// <summary>The OpenID metadata document; by default <c>{issuer}/.well-known/openid-configuration</c>.</summary>
    public required Uri MetadataUrl { get; init; }

    /// <summary>The claim holding the person's email.</summary>
    public string EmailClaim { get; init; } = DefaultEmailClaim;

    /// <summary>The claim holding group or role names (a string or an array of strings); null: roles come from <c>users:</c> only.</summary>
    public string? RolesClaim { get; init; }

    /// <summary>Values of <see cref="RolesClaim"/> and the role each grants. Empty: a value grants the role of the same name.</summary>
    public IReadOnlyDictionary<string, Role> RoleMap { get; init; } = new Dictionary<string, Role>();

    public TimeSpan ClockSkew { get; init; } = DefaultClockSkew;
}

internal static class OidcSection
{
    private static readonly string[] Fields = ["issuer", "audience", "metadataUrl", "emailClaim", "rolesClaim", "roleMap", "clockSkew"];

    public static OidcConfig? Read(MappingView root)
    {
        if (root.Child("oidc", Fields) is not { } oidc)
        {
            return null;
        }

        var issuer = oidc.String("issuer", required: true, check: SecureUrl);
        var audience = oidc.String("audience", required: true);
        var metadata = oidc.String("metadataUrl", check: SecureUrl);
        var rolesClaim = oidc.String("rolesClaim");
        var map = new Dictionary<string, Role>(StringComparer.Ordinal);
        foreach (var (value, roleName) in oidc.Map("roleMap"))
        {
            if (RoleNames.TryParse(roleName, out var role))
            {
                map[value] = role;
            }
            else
            {
                oidc.Reader.Error(oidc.KeyPosition("roleMap"), $"{oidc.PathOf("roleMap")}.{value}",
                    $"must be one of: {string.Join(", ", RoleNames.All)}{FieldNames.Suggestion(roleName, RoleNames.All)}");
            }
        }

        if (oidc.Has("roleMap") && rolesClaim is null)
        {
            oidc.Reader.Error(oidc.KeyPosition("roleMap"), oidc.PathOf("rolesClaim"), "is required with roleMap (the claim whose values roleMap maps, e.g. groups)");
        }

        if (issuer is null || audience is null)
        {
            return null;
        }

        return new OidcConfig
        {
            Issuer = issuer,
            Audience = audience,
            MetadataUrl = new Uri(metadata ?? issuer.TrimEnd('/') + "/.well-known/openid-configuration", UriKind.Absolute),
            EmailClaim = oidc.String("emailClaim") ?? OidcConfig.DefaultEmailClaim,
            RolesClaim = rolesClaim,
            RoleMap = map,
            ClockSkew = oidc.Has("clockSkew") ? oidc.Duration("clockSkew", OidcConfig.DefaultClockSkew) : OidcConfig.DefaultClockSkew,
        };
    }

    // Keys fetched over plain HTTP could be swapped by anyone on the path; a loopback identity provider is the exception.
    private static string? SecureUrl(string value) =>
        Checks.HttpUrl(value) is { } problem ? problem
        : new Uri(value).Scheme == Uri.UriSchemeHttps || new Uri(value).IsLoopback ? null
        : "must be an https URL (plain http only for an identity provider on a loopback address)";
}
