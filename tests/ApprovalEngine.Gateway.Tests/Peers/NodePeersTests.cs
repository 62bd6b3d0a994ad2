using System.Text.Json;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Peers;

/// <summary>
/// The Node peers work on their own, with no gateway in between: the fixture server, the scenario client over
/// HTTP and stdio, and the conformance suite with the committed baseline.
/// </summary>
public sealed class NodePeersTests
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ConformanceTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task ClientList_FixtureServer_SeesToolsResourcesPromptsAndCapabilities()
    {
        await using var server = await NodePeers.StartFixtureServerAsync();

        var run = await NodePeers.RunClientAsync(ClientTimeout, "--scenario", "list", "--url", server.Url.ToString());

        Assert.True(run.Ok, run.ToString());
        var json = run.RequireJson();
        Assert.Equal("2025-11-25", json.GetProperty("protocolVersion").GetString());
        Assert.Equal("approval-engine-fixture", json.GetProperty("serverInfo").GetProperty("name").GetString());
        var tools = json.GetProperty("tools").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        foreach (var name in (string[])["test_simple_text", "test_tool_with_progress", "test_elicitation", "echo_headers", "slow", "last_cancelled", "add_tool"])
        {
            Assert.True(tools.ContainsKey(name), $"{name} missing from {string.Join(", ", tools.Keys)}");
        }

        Assert.True(tools["echo_headers"].GetProperty("annotations").GetProperty("readOnlyHint").GetBoolean());
        Assert.Contains(json.GetProperty("resources").EnumerateArray(), r => r.GetProperty("uri").GetString() == "test://static-text");
        Assert.Contains(json.GetProperty("resourceTemplates").EnumerateArray(), r => r.GetProperty("uriTemplate").GetString() == "test://template/{id}/data");
        Assert.Contains(json.GetProperty("prompts").EnumerateArray(), p => p.GetProperty("name").GetString() == "test_prompt_with_arguments");
        var capabilities = json.GetProperty("capabilities");
        Assert.True(capabilities.GetProperty("tools").GetProperty("listChanged").GetBoolean());
        Assert.True(capabilities.GetProperty("resources").GetProperty("subscribe").GetBoolean());
        Assert.Equal(JsonValueKind.Object, capabilities.GetProperty("logging").ValueKind);
    }

    [Fact]
    public async Task ClientCall_EchoHeadersWithKey_FixtureReceivesBearerAndCustomHeader()
    {
        await using var server = await NodePeers.StartFixtureServerAsync();

        var run = await NodePeers.RunClientAsync(
            ClientTimeout,
            "--scenario", "call", "--url", server.Url.ToString(), "--tool", "echo_headers", "--key", "ae_live_peers_test", "--header", "X-Test-Trace: 42");

        Assert.True(run.Ok, run.ToString());
        var headers = run.RequireJson().GetProperty("result").GetProperty("structuredContent").GetProperty("headers");
        Assert.Equal("Bearer ae_live_peers_test", headers.GetProperty("authorization").GetString());
        Assert.Equal("42", headers.GetProperty("x-test-trace").GetString());
    }

    [Fact]
    public async Task ClientCancel_SlowAfterTwoProgress_FixtureRecordsTheCancellation()
    {
        await using var server = await NodePeers.StartFixtureServerAsync();

        var run = await NodePeers.RunClientAsync(
            ClientTimeout,
            "--scenario", "cancel", "--url", server.Url.ToString(), "--tool", "slow", "--args", """{"ms":5000,"steps":10}""",
            "--after-progress", "2", "--then-tool", "last_cancelled", "--then-args", """{"waitMs":5000}""");

        Assert.True(run.Ok, run.ToString());
        var json = run.RequireJson();
        Assert.True(json.GetProperty("aborted").GetBoolean());
        Assert.Equal(2, json.GetProperty("progress").GetArrayLength());
        var state = json.GetProperty("then").GetProperty("result").GetProperty("structuredContent");
        Assert.True(state.GetProperty("cancelled").GetBoolean(), state.ToString());
        Assert.InRange(state.GetProperty("last").GetProperty("completedSteps").GetInt32(), 2, 9);
        Assert.Equal(0, state.GetProperty("inFlight").GetInt32());
    }

    [Fact]
    public async Task ClientListChanged_AddTool_NotifiedAndNewToolListed()
    {
        await using var server = await NodePeers.StartFixtureServerAsync();
        var name = $"added_{Guid.NewGuid():N}"[..20];

        var run = await NodePeers.RunClientAsync(
            ClientTimeout,
            "--scenario", "list-changed", "--url", server.Url.ToString(), "--tool", "add_tool", "--args", JsonSerializer.Serialize(new { name }));

        Assert.True(run.Ok, run.ToString());
        var json = run.RequireJson();
        Assert.True(json.GetProperty("notified").GetBoolean());
        Assert.Equal([name], json.GetProperty("added").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task ClientCall_FixtureRequiresBearer_RejectedWithoutKeyAcceptedWithIt()
    {
        await using var server = await NodePeers.StartFixtureServerAsync(bearer: "upstream-secret");

        var without = await NodePeers.RunClientAsync(ClientTimeout, "--scenario", "call", "--url", server.Url.ToString(), "--tool", "test_simple_text");
        var with = await NodePeers.RunClientAsync(
            ClientTimeout, "--scenario", "call", "--url", server.Url.ToString(), "--tool", "test_simple_text", "--key", "upstream-secret");

        Assert.False(without.Ok, without.ToString());
        Assert.Equal(1, without.ExitCode);
        Assert.True(with.Ok, with.ToString());
        Assert.Equal(
            "This is a simple text response for testing.",
            with.RequireJson().GetProperty("result").GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task ClientList_ServerEverythingOverStdio_SeesItsTools()
    {
        var run = await NodePeers.RunClientAsync(["--scenario", "list", .. NodePeers.ServerEverythingStdio().ClientArguments()], ClientTimeout);

        Assert.True(run.Ok, run.ToString());
        var json = run.RequireJson();
        Assert.Equal("stdio", json.GetProperty("transport").GetString());
        Assert.Contains(json.GetProperty("tools").EnumerateArray(), t => t.GetProperty("name").GetString() == "echo");
    }

    [Fact]
    public async Task Conformance_AllServerScenariosDirectlyAgainstFixture_PassWithCommittedBaseline()
    {
        await using var server = await NodePeers.StartFixtureServerAsync();

        var run = await NodePeers.RunConformanceAsync(server.Url.ToString(), "all", NodePeers.FixtureBaselinePath, ConformanceTimeout);

        Assert.True(run.ExitCode == 0, $"{run}\nfixture log:\n{server.Log}");
        // Guards against a run that passed because it ran nothing.
        Assert.True(run.Scenarios.Count >= 30, run.ToString());
        Assert.Empty(run.FailedScenarios);
    }
}
