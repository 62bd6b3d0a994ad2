using System.Net;
using System.Text;
using ApprovalEngine.Gateway.Mcp;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>Bad input at the HTTP layer gets the right status and JSON-RPC error, and changes nothing.</summary>
public sealed class McpHttpEndpointTests : IAsyncLifetime
{
    private McpGateway gateway = null!;
    private HttpClient client = null!;

    public static string Config(string extraServer = "") => $$"""
        server:
          maxRequestBodyBytes: 65536
        {{extraServer}}
        upstreams:
          memory:
            type: stdio
            command: node
            args: ["{{NodePeers.ServerMemory("unused").Arguments[0]}}"]
            env:
              MEMORY_FILE_PATH: {{MemoryFile()}}
        agents:
          alpha:
            owner: alice@example.com
            groups: [builders]
            keys: ["{key:alpha}", "{key:alpha-rotated}"]
          beta:
            owner: bob@example.com
            keys: ["{key:beta}"]
          loner:
            owner: carol@example.com
            keys: ["{key:loner}"]
        bundles:
          tools:
            upstreams: [memory]
            agents: ["group:builders"]
          other:
            upstreams: [memory]
            agents: [beta]
        """;

    /// <summary>A graph file of its own: server-memory resolves a relative path against its package folder, shared by every run.</summary>
    private static string MemoryFile() => Path.Combine(Path.GetTempPath(), $"ae-memory-{Guid.NewGuid():N}.jsonl");

    public async Task InitializeAsync()
    {
        gateway = await McpGateway.StartAsync(Config());
        client = gateway.CreateHttpClient();
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await gateway.DisposeAsync();
    }

    [Fact]
    public async Task Post_NoKey_Returns401WithBearerChallenge()
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), key: null, RawMcp.Initialize()));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Contains("realm=\"approval-engine\"", challenge.Parameter, StringComparison.Ordinal);
        Assert.DoesNotContain("invalid_token", challenge.Parameter, StringComparison.Ordinal);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_WrongKey_Returns401InvalidTokenWithoutEchoingIt()
    {
        var wrong = ApprovalEngine.Gateway.Agents.ApiKeys.Generate();

        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), wrong, RawMcp.Initialize()));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_EitherRotatedKey_IsAccepted()
    {
        await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));
        await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha-rotated"));

        Assert.Equal(2, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_BundleOfOtherAgents_Returns403()
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("other"), gateway.KeyOf("alpha"), RawMcp.Initialize()));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("not a member of bundle 'other'", RawMcp.ErrorMessage(await RawMcp.MessageAsync(response)), StringComparison.Ordinal);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_AgentWithoutBundles_Returns403OnMcp()
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url(), gateway.KeyOf("loner"), RawMcp.Initialize()));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Post_UnknownBundle_Returns404()
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("nope"), gateway.KeyOf("alpha"), RawMcp.Initialize()));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no bundle 'nope'", RawMcp.ErrorMessage(await RawMcp.MessageAsync(response)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/event-stream")]
    [InlineData("text/html")]
    public async Task Post_AcceptMissingAType_Returns406(string accept)
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Initialize(), accept: accept));

        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_WrongContentType_Returns415()
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Initialize(), contentType: "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_MalformedJson_Returns400ParseError()
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), """{"jsonrpc":"2.0","id":1,"method":"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(-32700, RawMcp.ErrorCode(await RawMcp.MessageAsync(response)));
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_TrailingDataAfterTheMessage_Returns400ParseError()
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Initialize() + " {}"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(-32700, RawMcp.ErrorCode(await RawMcp.MessageAsync(response)));
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_ChunkedBodyInManyPiecesUnderTheLimit_IsServed()
    {
        // Read from Kestrel's pipe in several reads: the message is parsed once the whole body is there.
        var padding = new string('x', 50_000);
        var body = RawMcp.Request(1, "initialize", $$$"""{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"{{{padding}}}","version":"1"}}""");
        using var request = RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), "{}");
        request.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)), bufferSize: 1024);
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.Contains(McpHttpHandler.SessionHeader));
        Assert.Equal(1, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_OversizeBody_Returns413()
    {
        var padding = new string('x', 70_000);
        var body = RawMcp.Request(1, "initialize", $$$"""{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"{{{padding}}}","version":"1"}}""");

        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), body));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_OversizeChunkedBody_Returns413()
    {
        var padding = new string('x', 70_000);
        var body = RawMcp.Request(1, "initialize", $$$"""{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"{{{padding}}}","version":"1"}}""");
        using var request = RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), "{}");
        request.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)));
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Post_WithoutSessionAndNotInitialize_Returns400()
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Request(1, "tools/list")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_UnknownSession_Returns404SessionNotFound()
    {
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Request(1, "tools/list"), session: AgentSession.NewId()));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(-32001, RawMcp.ErrorCode(await RawMcp.MessageAsync(response)));
    }

    [Fact]
    public async Task Post_SessionOfAnotherAgent_Returns403AndSessionSurvives()
    {
        var session = await RawMcp.StartSessionAsync(client, gateway.Url(), gateway.KeyOf("beta"));

        using var hijack = await client.SendAsync(RawMcp.Post(gateway.Url(), gateway.KeyOf("alpha"), RawMcp.Request(2, "tools/list"), session: session));
        using var owner = await client.SendAsync(RawMcp.Post(gateway.Url(), gateway.KeyOf("beta"), RawMcp.Request(3, "tools/list"), session: session, protocolVersion: "2025-11-25"));

        Assert.Equal(HttpStatusCode.Forbidden, hijack.StatusCode);
        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        Assert.NotNull((await RawMcp.MessageAsync(owner))["result"]);
    }

    [Fact]
    public async Task Post_SessionOfAnotherEndpoint_Returns404()
    {
        var session = await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));

        using var response = await client.SendAsync(RawMcp.Post(gateway.Url(), gateway.KeyOf("alpha"), RawMcp.Request(2, "tools/list"), session: session));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Delete_Session_ClosesItAndLaterRequestsGet404()
    {
        var session = await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));
        using var delete = new HttpRequestMessage(HttpMethod.Delete, gateway.Url("tools"));
        delete.Headers.Authorization = new("Bearer", gateway.KeyOf("alpha"));
        delete.Headers.Add("Mcp-Session-Id", session);

        using var deleted = await client.SendAsync(delete);
        using var after = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Request(2, "tools/list"), session: session));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_UnsupportedProtocolVersion_Returns400()
    {
        var session = await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));

        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Request(2, "tools/list"), session: session, protocolVersion: "1999-01-01"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("1999-01-01", RawMcp.ErrorMessage(await RawMcp.MessageAsync(response)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("evil.example", null)]
    [InlineData(null, "http://evil.example")]
    public async Task Post_ForeignHostOrOrigin_Returns403(string? host, string? origin)
    {
        using var request = RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Initialize());
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }

    [Fact]
    public async Task Post_LoopbackOrigin_IsAccepted()
    {
        using var request = RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Initialize());
        request.Headers.Add("Origin", "http://localhost:6274");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Get_WithoutEventStreamAccept_Returns406()
    {
        var session = await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url("tools"));
        request.Headers.Authorization = new("Bearer", gateway.KeyOf("alpha"));
        request.Headers.Add("Mcp-Session-Id", session);
        request.Headers.Add("Accept", "application/json");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
    }

    [Fact]
    public async Task ToolsList_ConfiguredSeparator_NamespacesWithIt()
    {
        await using var dashed = await McpGateway.StartAsync(Config("  toolSeparator: \"-\""));
        var upstreams = dashed.Get<Gateway.Upstreams.IUpstreams>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!(upstreams.Catalog.Upstreams.TryGetValue("memory", out var entry) && entry.Tools.Count > 0))
        {
            await Task.Delay(50, deadline.Token);
        }

        using var dashedClient = dashed.CreateHttpClient();
        var session = await RawMcp.StartSessionAsync(dashedClient, dashed.Url("tools"), dashed.KeyOf("alpha"));
        using var response = await dashedClient.SendAsync(RawMcp.Post(dashed.Url("tools"), dashed.KeyOf("alpha"), RawMcp.Request(2, "tools/list"), session: session, protocolVersion: "2025-11-25"));

        var names = (await RawMcp.MessageAsync(response))["result"]!["tools"]!.AsArray().Select(t => t!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("memory-read_graph", names);
        Assert.All(names, name => Assert.StartsWith("memory-", name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Post_StatelessRevision_AnswersWithoutSession()
    {
        var body = RawMcp.Request(1, "tools/list", """{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}}""");
        using var request = RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), body, protocolVersion: "2026-07-28");
        request.Headers.Add("Mcp-Method", "tools/list");

        using var response = await client.SendAsync(request);

        var message = await RawMcp.MessageAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, message.ToJsonString());
        Assert.False(response.Headers.Contains("Mcp-Session-Id"));
        Assert.NotNull(message["result"]?["tools"]);
        Assert.Equal(0, gateway.Get<AgentSessions>().Count);
    }
}
