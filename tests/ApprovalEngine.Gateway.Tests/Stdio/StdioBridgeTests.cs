using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Stdio;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Gateway.Tests.Peers;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Stdio;

/// <summary>A gateway in front of the fixture server, for clients that reach it through the stdio entry.</summary>
public sealed class BridgedGateway : FixtureGateway
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Runs client.mjs with the TypeScript SDK's StdioClientTransport launching the gateway's stdio entry as its child
    /// process, with the agent key in the environment, as an MCP client that only launches local processes would.
    /// </summary>
    public Task<PeerRun> RunAsync(params string[] arguments)
    {
        var gatewayDll = Path.Combine(AppContext.BaseDirectory, "ApprovalEngine.Gateway.dll");
        string[] bridge =
        [
            "--stdio-command", "dotnet",
            "--stdio-args", JsonSerializer.Serialize(new[] { gatewayDll, StdioBridge.Command, "--url", Url }),
            "--stdio-env", JsonSerializer.Serialize(new Dictionary<string, string> { [StdioBridge.KeyVariable] = Key }),
        ];
        return NodePeers.RunClientAsync([.. arguments, .. bridge], RunTimeout);
    }
}

/// <summary>
/// Everything an upstream and the gateway send besides results passes through the stdio bridge in both directions:
/// progress and log notifications on the request's stream, a list change on the session's GET stream, an elicitation
/// request and the client's answer, and the client's cancellation. Each would be lost if the bridge relayed only
/// requests and their responses.
/// </summary>
public sealed class StdioBridgeTests(BridgedGateway peers) : IClassFixture<BridgedGateway>
{
    [Fact]
    public async Task Progress_ThroughTheBridge_EachStepReachesTheClientBeforeTheResult()
    {
        var report = TypeScriptClientTests.Ok(await peers.RunAsync("--scenario", "progress", "--tool", "fixture__slow", "--args", """{"ms":400,"steps":4}"""));

        Assert.Equal("stdio", report["transport"]!.GetValue<string>());
        // On the wire, as the bridge wrote them: every step, then the result. (The TypeScript client's onprogress may miss
        // the last step when it arrives in the same read as the result: it runs notification handlers a microtask late.)
        Assert.Equal(["1", "2", "3", "4", "result"], report["wire"]!.AsArray().Select(e => e!.ToString()));
        Assert.NotEmpty(report["progress"]!.AsArray());
        Assert.Equal("slow finished 4 steps in 400 ms", report["result"]!["content"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Elicit_ThroughTheBridge_ClientsAnswerReachesTheUpstream()
    {
        var report = TypeScriptClientTests.Ok(await peers.RunAsync(
            "--scenario", "elicit", "--tool", "fixture__test_elicitation", "--args", """{"message":"Who approves over stdio?"}""",
            "--answer", """{"username":"grace","email":"grace@example.com"}""", "--action", "accept"));

        Assert.Equal("Who approves over stdio?", Assert.Single(report["requests"]!.AsArray())!["message"]!.GetValue<string>());
        Assert.Equal(
            """User response: action=accept, content={"username":"grace","email":"grace@example.com"}""",
            report["result"]!["content"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task ListChanged_ThroughTheBridge_ClientIsNotifiedAndListsTheNewTool()
    {
        var name = "bridged_" + Guid.NewGuid().ToString("N")[..8];

        var report = TypeScriptClientTests.Ok(await peers.RunAsync("--scenario", "list-changed", "--tool", "fixture__add_tool", "--args", JsonSerializer.Serialize(new { name })));

        Assert.True(report["notified"]!.GetValue<bool>());
        Assert.Equal([$"fixture__{name}"], report["added"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    [Fact]
    public async Task Cancel_ThroughTheBridge_TheUpstreamCallIsCancelled()
    {
        // 43 steps: an argument no other test uses, so last_cancelled's record is this call's.
        var report = TypeScriptClientTests.Ok(await peers.RunAsync(
            "--scenario", "cancel", "--tool", "fixture__slow", "--args", """{"ms":20000,"steps":43}""", "--after-progress", "2",
            "--then-tool", "fixture__last_cancelled", "--then-args", """{"waitMs":10000}"""));

        Assert.True(report["aborted"]!.GetValue<bool>());
        var upstream = JsonNode.Parse(report["then"]!["result"]!["content"]![0]!["text"]!.GetValue<string>())!;
        Assert.True(upstream["cancelled"]?.GetValue<bool>(), upstream.ToJsonString());
        Assert.Equal(43, upstream["last"]!["steps"]!.GetValue<int>());
        Assert.Equal("the agent cancelled the request", upstream["last"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Call_GatewayRefusesTheRequest_ClientGetsAnErrorAnswerForIt()
    {
        var tooLarge = new string('x', FixtureGateway.MaxRequestBodyBytes + 1);

        var run = await peers.RunAsync("--scenario", "call", "--tool", "fixture__slow", "--args", JsonSerializer.Serialize(new { padding = tooLarge }));

        // The bridge answers the request with the gateway's refusal (413) instead of leaving the client waiting.
        Assert.False(run.Ok, run.ToString());
        var error = TypeScriptClientTests.Report(run)["error"]!;
        Assert.Equal(-32603, error["code"]!.GetValue<int>());
        Assert.Contains("413", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logging_ThroughTheBridge_ClientReceivesTheUpstreamsMessages()
    {
        var report = TypeScriptClientTests.Ok(await peers.RunAsync("--scenario", "logging", "--tool", "fixture__test_tool_with_logging", "--args", "{}", "--level", "debug"));

        Assert.NotEmpty(report["messages"]!.AsArray());
        Assert.All(report["messages"]!.AsArray(), message => Assert.Equal("info", message!["level"]!.GetValue<string>()));
    }
}
