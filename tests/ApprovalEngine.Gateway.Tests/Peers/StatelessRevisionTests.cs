using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Mcp;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Peers;

/// <summary>
/// The 2026-07-28 revision over raw HTTP (the TypeScript SDK 1.x cannot speak it): one POST per request, answered on
/// its own event stream, no sessions. Progress rides that stream before the result; closing it cancels the call up to
/// the upstream; the server sends no requests on it (the revision replaced them with multi round-trip results, which
/// the gateway does not offer for an upstream's requests, so it declines an upstream's elicitation on the agent's
/// behalf); bad input gets the statuses and codes the revision prescribes.
/// </summary>
public sealed class StatelessRevisionTests(FixtureGateway peers) : IClassFixture<FixtureGateway>
{
    private const string Version = "2026-07-28";
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ToolsCall_WithProgressToken_ProgressEventsPrecedeTheResultOnThePostStream()
    {
        using var client = peers.Gateway.CreateHttpClient();
        var meta = Meta();
        meta["progressToken"] = "stateless-progress";

        using var response = await client.SendAsync(Call(1, "fixture__slow", new JsonObject { ["ms"] = 300, ["steps"] = 3 }, meta), HttpCompletionOption.ResponseHeadersRead);
        var events = await ReadAllEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains(McpHttpHandler.SessionHeader));
        Assert.Equal(4, events.Count);
        for (var step = 1; step <= 3; step++)
        {
            var progress = events[step - 1];
            Assert.Equal("notifications/progress", progress["method"]?.GetValue<string>());
            Assert.Equal("stateless-progress", progress["params"]!["progressToken"]!.GetValue<string>());
            Assert.Equal(step, progress["params"]!["progress"]!.GetValue<double>());
        }

        Assert.Equal(1, events[3]["id"]!.GetValue<int>());
        Assert.Equal("slow finished 3 steps in 300 ms", events[3]["result"]!["content"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task ToolsCall_PostStreamClosed_UpstreamCallIsCancelled()
    {
        // No draining on dispose: the connection closes at once, as an agent that gave up would close it.
        using var closing = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { Timeout = TimeSpan.FromSeconds(60) };
        using var client = peers.Gateway.CreateHttpClient();
        var meta = Meta();
        meta["progressToken"] = "stateless-cancel";
        var response = await closing.SendAsync(Call(1, "fixture__slow", new JsonObject { ["ms"] = 20_000, ["steps"] = 41 }, meta), HttpCompletionOption.ResponseHeadersRead);
        using (var stream = new EventReader(await response.Content.ReadAsStreamAsync()))
        {
            using var timeout = new CancellationTokenSource(StreamTimeout);
            for (var seen = 0; seen < 2;)
            {
                var next = await stream.NextAsync(timeout.Token) ?? throw new EndOfStreamException("The stream ended before two progress events.");
                seen += next["method"]?.GetValue<string>() == "notifications/progress" ? 1 : 0;
            }
        }

        response.Dispose();
        using var after = await client.SendAsync(Call(2, "fixture__last_cancelled", new JsonObject { ["waitMs"] = 10_000 }, Meta()), HttpCompletionOption.ResponseHeadersRead);
        var state = (await ReadAllEventsAsync(after))[^1]["result"]!["structuredContent"]!;

        Assert.True(state["cancelled"]?.GetValue<bool>(), state.ToJsonString());
        Assert.Equal(41, state["last"]!["steps"]!.GetValue<int>());
        Assert.InRange(state["last"]!["completedSteps"]!.GetValue<int>(), 2, 40);
        Assert.Equal("the agent cancelled the request", state["last"]!["reason"]!.GetValue<string>());
        Assert.Equal(0, state["inFlight"]!.GetValue<int>());
    }

    [Fact]
    public async Task ToolsCall_UpstreamElicits_NoRequestOnThePostStreamAndTheUpstreamIsDeclined()
    {
        using var client = peers.Gateway.CreateHttpClient();
        var meta = Meta(new JsonObject { ["elicitation"] = new JsonObject { ["form"] = new JsonObject() } });

        using var response = await client.SendAsync(Call(1, "fixture__test_elicitation", new JsonObject { ["message"] = "Who approves?" }, meta), HttpCompletionOption.ResponseHeadersRead);
        var events = await ReadAllEventsAsync(response);

        Assert.DoesNotContain(events, e => e["method"] is not null && e["id"] is not null);
        var result = Assert.Single(events)["result"]!;
        Assert.NotEqual(true, result["isError"]?.GetValue<bool>());
        Assert.Equal("User response: action=decline, content={}", result["content"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Post_MalformedJson_Returns400ParseError()
    {
        using var client = peers.Gateway.CreateHttpClient();

        using var response = await client.SendAsync(Post("""{"jsonrpc":"2.0","id":1,"method":""", "tools/list"));

        var message = await RawMcp.MessageAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(-32700, RawMcp.ErrorCode(message));
        Assert.Null(message["id"]);
    }

    [Fact]
    public async Task Post_UnsupportedProtocolVersion_Returns400ListingTheSupportedOnes()
    {
        using var client = peers.Gateway.CreateHttpClient();
        var meta = Meta();
        meta["io.modelcontextprotocol/protocolVersion"] = "2099-01-01";

        using var response = await client.SendAsync(Post(RawMcp.Request(7, "tools/list", new JsonObject { ["_meta"] = meta }.ToJsonString()), "tools/list", version: "2099-01-01"));

        var message = await RawMcp.MessageAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(-32022, RawMcp.ErrorCode(message));
        Assert.Equal(7, message["id"]!.GetValue<int>());
        var supported = message["error"]!["data"]!["supported"]!.AsArray().Select(v => v!.GetValue<string>()).ToList();
        Assert.Contains(Version, supported);
        Assert.Contains("2025-11-25", supported);
        Assert.Equal("2099-01-01", message["error"]!["data"]!["requested"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/event-stream")]
    public async Task Post_AcceptMissingAType_Returns406(string accept)
    {
        using var client = peers.Gateway.CreateHttpClient();

        using var response = await client.SendAsync(Post(RawMcp.Request(1, "tools/list", new JsonObject { ["_meta"] = Meta() }.ToJsonString()), "tools/list", accept: accept));

        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
        Assert.Equal(-32600, RawMcp.ErrorCode(await RawMcp.MessageAsync(response)));
    }

    [Fact]
    public async Task Post_HeaderAndMetaVersionsDiffer_Returns400HeaderMismatch()
    {
        using var client = peers.Gateway.CreateHttpClient();
        var meta = Meta();
        meta["io.modelcontextprotocol/protocolVersion"] = "2025-11-25";

        using var response = await client.SendAsync(Post(RawMcp.Request(9, "tools/list", new JsonObject { ["_meta"] = meta }.ToJsonString()), "tools/list"));

        var message = await RawMcp.MessageAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(-32020, RawMcp.ErrorCode(message));
        Assert.Equal(9, message["id"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("initialize")]
    [InlineData("ping")]
    [InlineData("no/such-method")]
    public async Task Post_MethodNotInTheRevision_Returns404MethodNotFound(string method)
    {
        using var client = peers.Gateway.CreateHttpClient();

        using var response = await client.SendAsync(Post(RawMcp.Request(3, method, new JsonObject { ["_meta"] = Meta() }.ToJsonString()), method));

        var message = await RawMcp.MessageAsync(response);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(-32601, RawMcp.ErrorCode(message));
        Assert.Equal(3, message["id"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("DELETE")]
    public async Task GetOrDelete_StatelessRevision_Returns405AllowingPost(string method)
    {
        using var client = peers.Gateway.CreateHttpClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), peers.Url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", peers.Key);
        request.Headers.Add(McpHttpHandler.ProtocolVersionHeader, Version);
        request.Headers.Add("Accept", "text/event-stream");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(["POST"], response.Content.Headers.Allow);
        Assert.Equal(-32600, RawMcp.ErrorCode(await RawMcp.MessageAsync(response)));
    }

    /// <summary>The per-request metadata a 2026-07-28 client sends in every request's <c>_meta</c>.</summary>
    private static JsonObject Meta(JsonObject? capabilities = null) => new()
    {
        ["io.modelcontextprotocol/protocolVersion"] = Version,
        ["io.modelcontextprotocol/clientCapabilities"] = capabilities ?? new JsonObject(),
        ["io.modelcontextprotocol/clientInfo"] = new JsonObject { ["name"] = "stateless-test", ["version"] = "1.0.0" },
    };

    private HttpRequestMessage Call(int id, string tool, JsonObject arguments, JsonObject meta)
    {
        var parameters = new JsonObject { ["name"] = tool, ["arguments"] = arguments, ["_meta"] = meta };
        var request = Post(RawMcp.Request(id, "tools/call", parameters.ToJsonString()), "tools/call");
        request.Headers.Add("Mcp-Name", tool);
        return request;
    }

    /// <summary>A POST with the headers a 2026-07-28 client sends (<c>MCP-Protocol-Version</c>, <c>Mcp-Method</c>).</summary>
    private HttpRequestMessage Post(string body, string method, string version = Version, string accept = RawMcp.Accept)
    {
        var request = RawMcp.Post(peers.Url, peers.Key, body, accept: accept, protocolVersion: version);
        request.Headers.Add("Mcp-Method", method);
        return request;
    }

    private static async Task<List<JsonObject>> ReadAllEventsAsync(HttpResponseMessage response)
    {
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new EventReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(StreamTimeout);
        var events = new List<JsonObject>();
        while (await reader.NextAsync(timeout.Token) is { } next)
        {
            events.Add(next);
        }

        return events;
    }

    /// <summary>The JSON-RPC messages of an MCP event stream, one <c>data:</c> payload per event, as they arrive.</summary>
    private sealed class EventReader(Stream stream) : IDisposable
    {
        private readonly StreamReader reader = new(stream, Encoding.UTF8);

        public async Task<JsonObject?> NextAsync(CancellationToken cancellationToken)
        {
            var data = new StringBuilder();
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.Length == 0 && data.Length > 0)
                {
                    return JsonNode.Parse(data.ToString())!.AsObject();
                }

                if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    data.Append(line.AsSpan(5).Trim());
                }
            }

            return data.Length > 0 ? JsonNode.Parse(data.ToString())!.AsObject() : null;
        }

        public void Dispose() => reader.Dispose();
    }
}
