using System.Security.Claims;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Notifiers.OpenId;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalEngine.Gateway.Humans;

/// <summary>
/// Validates people's JWTs from the configured OpenID Connect identity provider: the signature against its published
/// keys (fetched again when a token names an unknown key, throttled by <see cref="OpenIdKeyOptions"/>), the issuer,
/// the audience, the lifetime, and an email claim. Roles come from the <c>users:</c> entry with that email plus the
/// roles claim's mapped values.
/// </summary>
public sealed class OidcTokens(IHttpClientFactory httpClients, OpenIdKeyOptions keyOptions, TimeProvider time)
{
    public const string HttpClientName = "oidc";
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(15);

    // Asymmetric algorithms only: an HMAC "key" would be the same for every party that can read the JWKS.
    private static readonly string[] Algorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly CurrentOpenIdKeys _keys = new(() => httpClients.CreateClient(HttpClientName), keyOptions, time);

    /// <summary>Whether the token has a JWT's shape; only such tokens are checked here.</summary>
    public bool IsJwt(string token) => _handler.CanReadToken(token);

    public async Task<HumanAuthenticationResult> AuthenticateAsync(OidcConfig oidc, UserDirectory users, string token, CancellationToken ct)
    {
        string? kid;
        try
        {
            kid = _handler.ReadJsonWebToken(token).Kid;
        }
        catch (ArgumentException)
        {
            return Refused("the token is not a JWT");
        }

        if (string.IsNullOrEmpty(kid))
        {
            return Refused("the token names no signing key (kid)");
        }

        var keys = _keys.For(oidc.MetadataUrl);
        EndorsedKey? key;
        try
        {
            key = await keys.FindAsync(kid, ct);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or ArgumentException or System.Text.Json.JsonException
            or TaskCanceledException && !ct.IsCancellationRequested)
        {
            // Fail closed: without the keys no token is good.
            return Refused($"the identity provider's signing keys could not be fetched from {oidc.MetadataUrl}: {e.Message}");
        }

        if (key is null)
        {
            return Refused($"no signing key the identity provider publishes has id {kid}");
        }

        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = oidc.Issuer,
            ValidAudience = oidc.Audience,
            IssuerSigningKey = key.Key,
            ValidAlgorithms = Algorithms,
            ClockSkew = oidc.ClockSkew,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateIssuerSigningKey = true,
            LifetimeValidator = (notBefore, expires, _, parameters) => Lifetime(notBefore, expires, parameters.ClockSkew),
        });
        if (!result.IsValid)
        {
            return Refused(JwtProblems.Describe(result.Exception));
        }

        var identity = result.ClaimsIdentity;
        var email = identity.FindFirst(oidc.EmailClaim)?.Value;
        if (string.IsNullOrWhiteSpace(email) || Checks.Email(email) is not null)
        {
            return Refused($"the token has no email address in its {oidc.EmailClaim} claim");
        }

        if (identity.FindFirst("email_verified")?.Value is { } verified && !string.Equals(verified, "true", StringComparison.OrdinalIgnoreCase))
        {
            return Refused("the identity provider says the email address is not verified");
        }

        var roles = new List<Role>(users.FindByEmail(email)?.Roles ?? []);
        foreach (var role in ClaimedRoles(oidc, identity))
        {
            if (!roles.Contains(role))
            {
                roles.Add(role);
            }
        }

        return HumanAuthenticationResult.Success(new Human { Email = users.FindByEmail(email)?.Email ?? email, Roles = roles });
    }

    private static IEnumerable<Role> ClaimedRoles(OidcConfig oidc, ClaimsIdentity identity)
    {
        if (oidc.RolesClaim is null)
        {
            yield break;
        }

        // An array claim arrives as one claim per item.
        foreach (var claim in identity.FindAll(oidc.RolesClaim))
        {
            if (oidc.RoleMap.Count > 0 ? oidc.RoleMap.TryGetValue(claim.Value, out var mapped) : RoleNames.TryParse(claim.Value, out mapped))
            {
                yield return mapped;
            }
        }
    }

    // The handler's own check reads the system clock; this one reads the injected TimeProvider.
    private bool Lifetime(DateTime? notBefore, DateTime? expires, TimeSpan skew)
    {
        var now = time.GetUtcNow().UtcDateTime;
        if (expires is not { } exp || now - skew >= exp)
        {
            throw new SecurityTokenExpiredException("expired") { Expires = expires ?? DateTime.MinValue };
        }

        return notBefore is not { } nbf || now + skew >= nbf
            ? true
            : throw new SecurityTokenNotYetValidException("not valid yet") { NotBefore = nbf };
    }

    private static HumanAuthenticationResult Refused(string problem) => HumanAuthenticationResult.Failed(RefusalReason.InvalidToken, problem);
}
