using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;
using ApprovalEngine.Testing;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

public sealed class IdentityTests
{
    private static readonly AgentConfig Alice = new()
    {
        Id = "alice-bot",
        Owner = "alice@example.com",
        Credentials = new Dictionary<string, AgentCredentials>
        {
            ["everything"] = new() { Env = new Dictionary<string, string> { ["SERVICE_TOKEN"] = "alice-token" } },
            ["api"] = new() { Headers = new Dictionary<string, string> { ["x-api-key"] = "alice-key" } },
        },
    };

    [Fact]
    public async Task Stdio_AgentWithCredentials_OwnProcessWithItsEnvOverTheUpstreams()
    {
        var upstream = Peers.EverythingStdio() with
        {
            Env = new Dictionary<string, string> { ["SERVICE_TOKEN"] = "shared-token", ["REGION"] = "eu" },
        };
        Environment.SetEnvironmentVariable("AE_TEST_GATEWAY_ONLY", "gateway-secret");
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config([upstream], [Alice, Peers.AnyAgent]));
        await pool.WaitForReadyAsync("everything");

        var alice = Env(await pool.CallAsync("everything", "get-env", context: Peers.Context(Alice)));
        var plain = Env(await pool.CallAsync("everything", "get-env", context: Peers.Context(Peers.AnyAgent)));

        Assert.Equal("alice-token", alice.GetProperty("SERVICE_TOKEN").GetString());
        Assert.Equal("eu", alice.GetProperty("REGION").GetString());
        Assert.Equal("shared-token", plain.GetProperty("SERVICE_TOKEN").GetString());

        // The gateway's own environment (database, chat and OAuth secrets) stays with the gateway.
        Assert.False(plain.TryGetProperty("AE_TEST_GATEWAY_ONLY", out _));
        Assert.True(plain.TryGetProperty("PATH", out _));

        // Calls carry no trace of the credentials back: the catalog has only what the upstream lists.
        Assert.DoesNotContain("alice-token", JsonSerializer.Serialize(pool.Catalog), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stdio_AgentCredentialsChange_ItsConnectionIsReplaced()
    {
        await using var pool = PoolTestKit.NewPool();
        var upstream = Peers.FixtureStdio("everything");
        await pool.ApplyAsync(Peers.Config([upstream], [Alice]));
        await pool.WaitForReadyAsync("everything");
        var before = await pool.CallAsync("everything", "pid", context: Peers.Context(Alice));
        Assert.Equal("alice-token", (await pool.CallAsync("everything", "env", new { name = "SERVICE_TOKEN" }, Peers.Context(Alice))).Text());

        var rotated = Alice with
        {
            Credentials = new Dictionary<string, AgentCredentials> { ["everything"] = new() { Env = new Dictionary<string, string> { ["SERVICE_TOKEN"] = "alice-token-2" } } },
        };
        await pool.ApplyAsync(Peers.Config([upstream], [rotated]));

        Assert.Empty(await ProcessTable.WaitUntilGoneAsync([Pid(before)], PoolTestKit.Patience));
        Assert.Equal("alice-token-2", (await pool.CallAsync("everything", "env", new { name = "SERVICE_TOKEN" }, Peers.Context(rotated))).Text());
    }

    [Fact]
    public async Task Http_AgentWithCredentials_OwnSessionWithItsHeadersOverTheUpstreams()
    {
        await using var peer = await HttpPeer.StartFixtureAsync();
        var headers = new Dictionary<string, string> { ["X-Api-Key"] = "shared-key", ["X-Gateway"] = "approval-engine" };
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config([Peers.Http("api", peer.Url, headers)], [Alice]));
        await pool.WaitForReadyAsync("api");

        var alice = Json(await pool.CallAsync("api", "headers", context: Peers.Context(Alice)));
        var plain = Json(await pool.CallAsync("api", "headers", context: Peers.Context(Peers.AnyAgent)));

        Assert.Equal("alice-key", alice.GetProperty("x-api-key").GetString());
        Assert.Equal("approval-engine", alice.GetProperty("x-gateway").GetString());
        Assert.Equal("shared-key", plain.GetProperty("x-api-key").GetString());
        Assert.NotEqual(alice.GetProperty("mcp-session-id").GetString(), plain.GetProperty("mcp-session-id").GetString());
    }

    [Fact]
    public async Task Http_OAuthClientCredentials_TokenFetchedOnceAndSentAsBearer()
    {
        // A secret with characters that RFC 6749 form-encodes before Basic authentication.
        await using var tokens = await OAuthTokenServer.StartAsync("gateway", "p@ss word:1");
        await using var peer = await HttpPeer.StartFixtureAsync(new Dictionary<string, string> { ["FIXTURE_INTROSPECT_URL"] = tokens.IntrospectUrl.ToString() });
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.Http("api", peer.Url, oauth: OAuth(tokens, "p@ss word:1"))));
        await pool.WaitForReadyAsync("api");

        var first = Json(await pool.CallAsync("api", "headers"));
        await pool.CallAsync("api", "echo", new { text = "again" });

        Assert.Equal("Bearer token-1", first.GetProperty("authorization").GetString());
        var request = Assert.Single(tokens.Requests);
        Assert.Equal("client_credentials", request.Form["grant_type"]);
        Assert.Equal("tools.call", request.Form["scope"]);
    }

    [Fact]
    public async Task Http_TokenRevoked_FetchesANewOneOnceAndTheCallSucceeds()
    {
        await using var tokens = await OAuthTokenServer.StartAsync("gateway", "secret");
        await using var peer = await HttpPeer.StartFixtureAsync(new Dictionary<string, string> { ["FIXTURE_INTROSPECT_URL"] = tokens.IntrospectUrl.ToString() });
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.Http("api", peer.Url, oauth: OAuth(tokens, "secret"))));
        await pool.WaitForReadyAsync("api");

        tokens.RevokeAll();
        var after = Json(await pool.CallAsync("api", "headers"));

        Assert.Equal("Bearer token-2", after.GetProperty("authorization").GetString());
        Assert.Equal(2, tokens.Requests.Count);
    }

    [Fact]
    public async Task Http_TokenNearExpiry_RefetchedBeforeItExpires()
    {
        var clock = new ManualTimeProvider();
        await using var tokens = await OAuthTokenServer.StartAsync("gateway", "secret", expiresIn: 600);
        await using var peer = await HttpPeer.StartFixtureAsync(new Dictionary<string, string> { ["FIXTURE_INTROSPECT_URL"] = tokens.IntrospectUrl.ToString() });
        await using var pool = PoolTestKit.NewPool(clock);
        await pool.ApplyAsync(Peers.Config(Peers.Http("api", peer.Url, oauth: OAuth(tokens, "secret"))));
        await pool.WaitForReadyAsync("api");

        // Refreshed 30 s before the 600 s lifetime ends, not at the end, and not earlier.
        clock.Advance(TimeSpan.FromSeconds(569));
        Assert.Equal("Bearer token-1", Json(await pool.CallAsync("api", "headers")).GetProperty("authorization").GetString());
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("Bearer token-2", Json(await pool.CallAsync("api", "headers")).GetProperty("authorization").GetString());
    }

    [Fact]
    public async Task Http_WrongClientSecret_FailedWithTheEndpointsAnswerAndNoSecret()
    {
        await using var tokens = await OAuthTokenServer.StartAsync("gateway", "right-secret");
        await using var peer = await HttpPeer.StartFixtureAsync(new Dictionary<string, string> { ["FIXTURE_INTROSPECT_URL"] = tokens.IntrospectUrl.ToString() });
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.Http("api", peer.Url, oauth: OAuth(tokens, "wrong-secret"))));

        var entry = (await pool.WaitForCatalogAsync(c => c.Upstreams["api"].State == UpstreamState.Failed, "api failed")).Upstreams["api"];

        Assert.Equal("the OAuth token endpoint answered HTTP 401 (invalid_client)", entry.LastError);
        var error = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("api", "echo"));
        Assert.DoesNotContain("wrong-secret", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_EverySecretPath_CarryNoSecretAtAnyLevel()
    {
        await using var tokens = await OAuthTokenServer.StartAsync("gateway", "oauth-secret-1");
        await using var peer = await HttpPeer.StartFixtureAsync(new Dictionary<string, string> { ["FIXTURE_INTROSPECT_URL"] = tokens.IntrospectUrl.ToString() });
        var logs = new RecordingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        var agent = new AgentConfig
        {
            Id = "carol-bot",
            Owner = "carol@example.com",
            Credentials = new Dictionary<string, AgentCredentials>
            {
                ["api"] = new() { Headers = new Dictionary<string, string> { ["X-Api-Key"] = "header-secret-2" } },
                ["local"] = new() { Env = new Dictionary<string, string> { ["SERVICE_TOKEN"] = "env-secret-3" } },
            },
        };
        var broken = Peers.Stdio("broken", ["--key", "arg-secret-4"], new Dictionary<string, string> { ["KEY"] = "env-secret-5" }, command: "/nonexistent/mcp-server");
        await using (var pool = new UpstreamPool(TimeProvider.System, factory))
        {
            await pool.ApplyAsync(Peers.Config(
                [Peers.Http("api", peer.Url, oauth: OAuth(tokens, "oauth-secret-1")), Peers.FixtureStdio("local", timeout: TimeSpan.FromMinutes(1)), broken],
                [agent]));
            await pool.WaitForCatalogAsync(c => c.Upstreams["api"].State == UpstreamState.Ready && c.Upstreams["local"].State == UpstreamState.Ready && c.Upstreams["broken"].State == UpstreamState.Failed, "api and local ready, broken failed");

            await pool.CallAsync("api", "headers", context: Peers.Context(agent));
            tokens.RevokeAll();
            await pool.CallAsync("api", "echo", new { text = "after revocation" });
            Assert.Equal("env-secret-3", (await pool.CallAsync("local", "env", new { name = "SERVICE_TOKEN" }, Peers.Context(agent))).Text());
            await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("local", "crash", context: Peers.Context(agent)));
            await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("broken", "echo"));
        }

        Assert.NotEmpty(logs.Entries);
        string[] secrets = ["oauth-secret-1", "header-secret-2", "env-secret-3", "arg-secret-4", "env-secret-5", "token-1", "token-2"];
        Assert.All(logs.Entries, entry => Assert.DoesNotContain(secrets, secret => entry.Contains(secret, StringComparison.Ordinal)));
    }

    private static OAuthClientConfig OAuth(OAuthTokenServer tokens, string secret) =>
        new() { TokenUrl = tokens.TokenUrl, ClientId = "gateway", ClientSecret = secret, Scope = "tools.call" };

    private static JsonElement Json(ModelContextProtocol.Protocol.CallToolResult result) => JsonDocument.Parse(result.Text()).RootElement;

    private static JsonElement Env(ModelContextProtocol.Protocol.CallToolResult result) => Json(result);

    private static int Pid(ModelContextProtocol.Protocol.CallToolResult result) => Json(result).GetProperty("pid").GetInt32();
}
