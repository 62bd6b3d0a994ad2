using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalEngine.Gateway.Tests.Humans;

/// <summary>
/// An OpenID Connect identity provider on 127.0.0.1: the discovery document and the JWKS of its published RSA keys,
/// and tokens signed with them (or with anything a test wants to spoil).
/// </summary>
internal sealed class FakeIdentityProvider : IAsyncDisposable
{
    public const string Audience = "approval-engine";

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, RsaSecurityKey> published = new();
    private int keyFetches;

    private FakeIdentityProvider(WebApplication app)
    {
        this.app = app;
        app.MapGet("/realms/test/.well-known/openid-configuration", () => Unavailable ? Results.StatusCode(503) : Results.Json(new JsonObject
        {
            ["issuer"] = Issuer,
            ["jwks_uri"] = Issuer + "/keys",
            ["id_token_signing_alg_values_supported"] = new JsonArray("RS256"),
        }));
        app.MapGet("/realms/test/keys", () =>
        {
            Interlocked.Increment(ref keyFetches);
            var keys = new JsonArray();
            foreach (var key in published.Values)
            {
                var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(key);
                keys.Add(new JsonObject { ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = jwk.Kid, ["n"] = jwk.N, ["e"] = jwk.E });
            }

            return Results.Json(new JsonObject { ["keys"] = keys });
        });
    }

    public string Issuer { get; private set; } = string.Empty;

    public RsaSecurityKey SigningKey { get; } = NewKey("idp-key-1");

    public int KeyFetches => Volatile.Read(ref keyFetches);

    /// <summary>While set, the discovery document answers 503.</summary>
    public bool Unavailable { get; set; }

    public static async Task<FakeIdentityProvider> StartAsync()
    {
        var idp = new FakeIdentityProvider(LoopbackServer.Build());
        idp.Publish(idp.SigningKey);
        idp.Issuer = await LoopbackServer.StartAsync(idp.app) + "/realms/test";
        return idp;
    }

    public static RsaSecurityKey NewKey(string kid) => new(RSA.Create(2048)) { KeyId = kid };

    public void Publish(RsaSecurityKey key) => published[key.KeyId!] = key;

    /// <summary>A token as the provider issues it for <paramref name="email"/>; every field can be spoiled by a test.</summary>
    public string Token(
        string? email, string[]? groups = null, string? audience = Audience, string? issuer = null, SecurityKey? key = null,
        string algorithm = SecurityAlgorithms.RsaSha256, DateTime? expires = null, bool? emailVerified = null)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["sub"] = "user-" + (email ?? "none") };
        if (email is not null)
        {
            claims["email"] = email;
        }

        if (groups is not null)
        {
            claims["groups"] = groups;
        }

        if (emailVerified is { } verified)
        {
            claims["email_verified"] = verified;
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = now.AddMinutes(-1),
            NotBefore = now.AddMinutes(-1),
            Expires = expires ?? now.AddMinutes(30),
            SigningCredentials = new SigningCredentials(key ?? SigningKey, algorithm),
        });
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();
}
