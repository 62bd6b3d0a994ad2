using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>
/// A fake OAuth 2.0 authorization server on 127.0.0.1: <c>/token</c> runs the client-credentials grant with HTTP
/// Basic client authentication and issues token-1, token-2, ...; <c>/introspect</c> (the fixture MCP server asks it)
/// answers 200 for a live token and 401 otherwise.
/// </summary>
internal sealed class OAuthTokenServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, bool> live = new();
    private int issued;

    private OAuthTokenServer(WebApplication app, string clientId, string clientSecret, long expiresIn)
    {
        this.app = app;
        app.MapPost("/token", async (HttpContext http) =>
        {
            var form = await http.Request.ReadFormAsync();
            var authorization = http.Request.Headers.Authorization.ToString();
            Requests.Enqueue(new TokenRequest(authorization, form.ToDictionary(f => f.Key, f => f.Value.ToString())));
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{WebUtility.UrlEncode(clientId)}:{WebUtility.UrlEncode(clientSecret)}"));
            if (authorization != expected)
            {
                return Results.Json(new { error = "invalid_client", error_description = "bad client credentials" }, statusCode: 401);
            }

            if (form["grant_type"] != "client_credentials")
            {
                return Results.Json(new { error = "unsupported_grant_type" }, statusCode: 400);
            }

            var token = $"token-{Interlocked.Increment(ref issued)}";
            live[token] = true;
            return Results.Json(new { access_token = token, token_type = "Bearer", expires_in = expiresIn });
        });
        app.MapPost("/introspect", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            return live.ContainsKey(await reader.ReadToEndAsync()) ? Results.Ok() : Results.Unauthorized();
        });
    }

    public ConcurrentQueue<TokenRequest> Requests { get; } = new();

    public Uri TokenUrl { get; private set; } = null!;

    public Uri IntrospectUrl { get; private set; } = null!;

    public static async Task<OAuthTokenServer> StartAsync(string clientId, string clientSecret, long expiresIn = 3600)
    {
        var server = new OAuthTokenServer(LoopbackServer.Build(), clientId, clientSecret, expiresIn);
        var address = new Uri(await LoopbackServer.StartAsync(server.app));
        server.TokenUrl = new Uri(address, "/token");
        server.IntrospectUrl = new Uri(address, "/introspect");
        return server;
    }

    /// <summary>Every token issued so far stops working, as if revoked.</summary>
    public void RevokeAll() => live.Clear();

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    internal sealed record TokenRequest(string Authorization, IReadOnlyDictionary<string, string> Form);
}
