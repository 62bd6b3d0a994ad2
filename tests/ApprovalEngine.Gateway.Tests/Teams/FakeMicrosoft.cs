using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalEngine.Gateway.Tests.Teams;

/// <summary>
/// A local stand-in for Microsoft on 127.0.0.1: the Bot Framework OpenID metadata and JWKS (keys with endorsements,
/// signing test tokens with an RSA key of its own), the Entra token endpoint, and the Bot Connector REST API (send,
/// update, members), recording every call.
/// </summary>
internal sealed class FakeMicrosoft : IAsyncDisposable
{
    public const string AppId = "00000000-0000-0000-0000-00000000a11e";
    public const string AppPassword = "fake-client-secret";
    public const string TenantId = "tenant-1";
    public const string AccessToken = "fake-bot-access-token";

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, (RsaSecurityKey Key, string[] Endorsements)> published = new();
    private readonly ConcurrentQueue<int> failures = new();
    private int nextActivity;
    private int keyFetches;

    private FakeMicrosoft(WebApplication app)
    {
        this.app = app;
        app.MapGet("/v1/.well-known/openidconfiguration", () => Results.Json(new { issuer = "https://api.botframework.com", jwks_uri = BaseUrl + "/v1/.well-known/keys" }));
        app.MapGet("/v1/.well-known/keys", () =>
        {
            Interlocked.Increment(ref keyFetches);
            var keys = new JsonArray();
            foreach (var (kid, (key, endorsements)) in published)
            {
                var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(key);
                keys.Add(new JsonObject
                {
                    ["kty"] = "RSA", ["use"] = "sig", ["kid"] = kid, ["n"] = jwk.N, ["e"] = jwk.E,
                    ["endorsements"] = new JsonArray([.. endorsements.Select(e => (JsonNode)JsonValue.Create(e)!)]),
                });
            }

            return Results.Text(new JsonObject { ["keys"] = keys }.ToJsonString(), "application/json");
        });
        app.MapPost("/{tenant}/oauth2/v2.0/token", async (string tenant, HttpContext http) =>
        {
            var form = await http.Request.ReadFormAsync();
            TokenRequests.Enqueue((tenant, form["client_id"].ToString(), form["client_secret"].ToString(), form["scope"].ToString()));
            return Results.Json(new { token_type = "Bearer", expires_in = 3600, access_token = AccessToken });
        });
        app.MapPost("/v3/conversations/{conversation}/activities", (string conversation, HttpContext http) => ConnectorAsync("POST", conversation, null, http));
        app.MapPut("/v3/conversations/{conversation}/activities/{activity}", (string conversation, string activity, HttpContext http) => ConnectorAsync("PUT", conversation, activity, http));
        app.MapGet("/v3/conversations/{conversation}/members/{user}", (string conversation, string user) =>
            Members.Values.FirstOrDefault(m => m["id"]!.GetValue<string>() == user || m["aadObjectId"]!.GetValue<string>() == user) is { } member
                ? Results.Text(member.ToJsonString(), "application/json")
                : Results.Json(new { error = new { code = "MemberNotFoundInConversation" } }, statusCode: 404));
        app.MapGet("/v3/conversations/{conversation}/members", () => Results.Text(new JsonArray([.. Members.Values.Select(m => m.DeepClone())]).ToJsonString(), "application/json"));
    }

    public sealed record ConnectorCall(string Method, string Conversation, string? ActivityId, string Authorization, JsonObject Body, int Status, string? ResultId);

    public string BaseUrl { get; private set; } = string.Empty;

    /// <summary>The service URL activities carry; the Bot Connector lives here.</summary>
    public string ServiceUrl => BaseUrl + "/";

    public string MetadataUrl => BaseUrl + "/v1/.well-known/openidconfiguration";

    public int KeyFetches => Volatile.Read(ref keyFetches);

    public ConcurrentQueue<ConnectorCall> Calls { get; } = new();

    public ConcurrentQueue<(string Tenant, string ClientId, string Secret, string Scope)> TokenRequests { get; } = new();

    /// <summary>Conversation members by email: <c>id</c> (29:…), <c>aadObjectId</c>, <c>email</c>, <c>userPrincipalName</c>.</summary>
    public ConcurrentDictionary<string, JsonObject> Members { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The key that signs tokens; published with the msteams endorsement.</summary>
    public RsaSecurityKey SigningKey { get; } = NewKey("key-1");

    public static async Task<FakeMicrosoft> StartAsync()
    {
        var fake = new FakeMicrosoft(LoopbackServer.Build());
        fake.Publish(fake.SigningKey, "msteams");
        fake.BaseUrl = await LoopbackServer.StartAsync(fake.app);
        return fake;
    }

    public static RsaSecurityKey NewKey(string kid) => new(RSA.Create(2048)) { KeyId = kid };

    public void Publish(RsaSecurityKey key, params string[] endorsements) => published[key.KeyId] = (key, endorsements);

    /// <summary>The next Bot Connector writes answer these statuses (429, 412, 502, 504), in order.</summary>
    public void FailNext(params int[] statuses)
    {
        foreach (var status in statuses)
        {
            failures.Enqueue(status);
        }
    }

    public JsonObject AddMember(string email, string name)
    {
        var member = new JsonObject
        {
            ["id"] = "29:" + name,
            ["aadObjectId"] = "aad-" + name,
            ["name"] = name,
            ["email"] = email,
            ["userPrincipalName"] = email,
        };
        Members[email] = member;
        return member;
    }

    /// <summary>A token as the Bot Framework channel service issues it; every field can be spoiled by a test.</summary>
    public string Token(
        string? audience = AppId, string issuer = "https://api.botframework.com", string? serviceUrl = null, RsaSecurityKey? key = null,
        DateTime? expires = null, DateTime? notBefore = null)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["serviceurl"] = serviceUrl ?? ServiceUrl };
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = (notBefore ?? now.AddMinutes(-1)),
            NotBefore = notBefore ?? now.AddMinutes(-1),
            Expires = expires ?? now.AddMinutes(30),
            SigningCredentials = new SigningCredentials(key ?? SigningKey, SecurityAlgorithms.RsaSha256),
        });
    }

    private async Task<IResult> ConnectorAsync(string method, string conversation, string? activity, HttpContext http)
    {
        var body = (await System.Text.Json.Nodes.JsonNode.ParseAsync(http.Request.Body))!.AsObject();
        var authorization = http.Request.Headers.Authorization.ToString();
        var status = authorization != "Bearer " + AccessToken ? 401 : failures.TryDequeue(out var failure) ? failure : 200;
        var id = status != 200 ? null : activity ?? "1700000000" + Interlocked.Increment(ref nextActivity).ToString("D3", System.Globalization.CultureInfo.InvariantCulture);
        Calls.Enqueue(new ConnectorCall(method, conversation, activity, authorization, body, status, id));
        return id is null
            ? Results.Json(new { error = new { code = status == 429 ? "TooManyRequests" : "Failed", message = "fake failure" } }, statusCode: status)
            : Results.Json(new { id });
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();
}
