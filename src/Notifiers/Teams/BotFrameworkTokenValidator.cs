using ApprovalEngine.Notifiers.OpenId;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalEngine.Notifiers.Teams;

/// <summary>The outcome of checking a request's token; <see cref="Problem"/> is safe to log (it never holds the token).</summary>
public sealed record BotTokenCheck(bool Valid, string? Problem = null, bool KeysUnavailable = false)
{
    public static BotTokenCheck Ok { get; } = new(true);

    public static BotTokenCheck Fail(string problem) => new(false, problem);
}

/// <summary>
/// Checks the bearer token on a request from the Bot Framework channel service: signed by a key from the OpenID
/// metadata, issued by <c>https://api.botframework.com</c> for our app id, within its lifetime (5 minutes of skew),
/// with a <c>serviceurl</c> claim equal to the activity's <c>serviceUrl</c>, and signed by a key endorsed for the
/// activity's channel.
/// </summary>
public sealed class BotFrameworkTokenValidator(OpenIdKeys keys, string appId)
{
    public const string Issuer = "https://api.botframework.com";
    public const string ServiceUrlClaim = "serviceurl";
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private static readonly string[] Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512];
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };

    public async Task<BotTokenCheck> ValidateAsync(string? authorization, string serviceUrl, string channelId, CancellationToken ct)
    {
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return BotTokenCheck.Fail("no bearer token");
        }

        var token = authorization[scheme.Length..].Trim();
        if (!_handler.CanReadToken(token))
        {
            return BotTokenCheck.Fail("the token is not a JWT");
        }

        var kid = _handler.ReadJsonWebToken(token).Kid;
        if (string.IsNullOrEmpty(kid))
        {
            return BotTokenCheck.Fail("the token names no signing key");
        }

        EndorsedKey? key;
        try
        {
            key = await keys.FindAsync(kid, ct);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or ArgumentException or System.Text.Json.JsonException or TaskCanceledException)
        {
            return new BotTokenCheck(false, $"the signing keys could not be fetched from {keys.MetadataUrl}: {e.Message}", KeysUnavailable: true);
        }

        if (key is null)
        {
            return BotTokenCheck.Fail($"no published signing key has id {kid}");
        }

        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidAudience = appId,
            IssuerSigningKey = key.Key,
            ValidAlgorithms = Algorithms,
            ClockSkew = ClockSkew,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateIssuerSigningKey = true,
        });
        if (!result.IsValid)
        {
            return BotTokenCheck.Fail(JwtProblems.Describe(result.Exception));
        }

        var claimed = result.ClaimsIdentity.FindFirst(ServiceUrlClaim)?.Value;
        if (claimed is null || !SameServiceUrl(claimed, serviceUrl))
        {
            return BotTokenCheck.Fail("the token's serviceurl claim does not match the activity's serviceUrl");
        }

        return key.Endorsements.Contains(channelId, StringComparer.Ordinal)
            ? BotTokenCheck.Ok
            : BotTokenCheck.Fail($"the signing key is not endorsed for channel {channelId}");
    }

    public static bool SameServiceUrl(string a, string b) =>
        string.Equals(a.TrimEnd('/'), b.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
}
