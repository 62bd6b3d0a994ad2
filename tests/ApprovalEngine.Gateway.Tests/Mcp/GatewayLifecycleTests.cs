using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Upstreams;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>What an agent sees when upstreams crash or the configuration changes, and what a stop leaves behind.</summary>
public sealed class GatewayLifecycleTests
{
    private static readonly string FixtureScript = Path.Combine(NodePeers.PeersDirectory, "upstream-fixtures", "fixture-server.mjs");
    private static readonly string LauncherScript = Path.Combine(NodePeers.PeersDirectory, "upstream-fixtures", "launcher.mjs");

    private static string Config(string extraUpstream = "", string bundleUpstreams = "[crashy]") => $$"""
        upstreams:
          crashy:
            type: stdio
            command: {{NodePeers.Node}}
            # Through a launcher, as npx does: the server is a grandchild of the gateway.
            args: [{{JsonSerializer.Serialize(LauncherScript)}}, {{JsonSerializer.Serialize(NodePeers.Node)}}, {{JsonSerializer.Serialize(FixtureScript)}}, "stdio"]
            cwd: .
            timeout: 20s
        {{extraUpstream}}
        agents:
          agent:
            owner: owner@example.com
            keys: ["{key:agent}"]
        bundles:
          b:
            upstreams: {{bundleUpstreams}}
            agents: [agent]
        """;

    [Fact]
    public async Task Call_UpstreamCrashesMidCall_AgentGetsCleanErrorAndUpstreamComesBack()
    {
        await using var gateway = await McpGateway.StartAsync(Config());
        await WaitForToolAsync(gateway, "crashy", "crash");

        var crashed = TypeScriptClientTests.Report(await Run(gateway, "--scenario", "call", "--tool", "crashy__crash", "--args", "{}"));
        await WaitForToolAsync(gateway, "crashy", "echo");
        var after = TypeScriptClientTests.Ok(await Run(gateway, "--scenario", "call", "--tool", "crashy__echo", "--args", """{"text":"back"}"""));

        Assert.True(crashed["result"]?["isError"]?.GetValue<bool>(), crashed.ToJsonString());
        Assert.Contains("crashy", crashed["result"]!["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("back", after["result"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_ValidChangeAddsUpstream_InvalidChangeKeepsTheOld()
    {
        await using var gateway = await McpGateway.StartAsync(Config());
        await WaitForToolAsync(gateway, "crashy", "echo");
        var keys = new Dictionary<string, string> { ["agent"] = gateway.KeyOf("agent") };
        var second = $$"""
              second:
                type: stdio
                command: {{NodePeers.Node}}
                args: [{{JsonSerializer.Serialize(FixtureScript)}}, "stdio"]
                cwd: .
            """;

        await File.WriteAllTextAsync(gateway.ConfigPath, McpGateway.WithKeys(Config(second, "[crashy, second]"), keys));
        await WaitForToolAsync(gateway, "second", "echo");
        var listed = TypeScriptClientTests.ToolNames(TypeScriptClientTests.Ok(await Run(gateway, "--scenario", "list")));
        await File.WriteAllTextAsync(gateway.ConfigPath, "upstreams:\n  broken: {type: carrier-pigeon}\n");
        await WaitUntilAsync(() => gateway.Get<ApprovalEngine.Gateway.Configuration.GatewayConfigMonitor>().LastErrors.Count > 0);
        var stillListed = TypeScriptClientTests.ToolNames(TypeScriptClientTests.Ok(await Run(gateway, "--scenario", "list")));

        Assert.Contains("second__echo", listed);
        Assert.Contains("crashy__echo", listed);
        Assert.Equal(listed, stillListed);
    }

    [Fact]
    public async Task Stop_WithStdioUpstreams_LeavesNoProcessBehind()
    {
        var gateway = await McpGateway.StartAsync(Config());
        await WaitForToolAsync(gateway, "crashy", "echo");
        var spawned = TypeScriptClientTests.Ok(await Run(gateway, "--scenario", "call", "--tool", "crashy__pid", "--args", "{}"));
        var server = JsonNode.Parse(spawned["result"]!["content"]![0]!["text"]!.GetValue<string>())!;
        int[] pids = [server["pid"]!.GetValue<int>(), server["ppid"]!.GetValue<int>()];
        Assert.All(pids, pid => Assert.True(Directory.Exists($"/proc/{pid}"), $"process {pid} should run while the gateway does"));

        await gateway.DisposeAsync();

        await WaitUntilAsync(() => pids.All(pid => !IsRunning(pid)));
    }

    private static Task<PeerRun> Run(McpGateway gateway, params string[] arguments) =>
        NodePeers.RunClientAsync(TimeSpan.FromSeconds(60), ["--url", gateway.Url("b"), "--key", gateway.KeyOf("agent"), .. arguments]);

    // A zombie (exited, not yet reaped) has stopped running; only its /proc entry remains.
    private static bool IsRunning(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].TrimStart().StartsWith('Z');

    private static async Task WaitForToolAsync(McpGateway gateway, string upstream, string tool)
    {
        var upstreams = gateway.Get<IUpstreams>();
        await WaitUntilAsync(() => upstreams.Catalog.Upstreams.TryGetValue(upstream, out var entry)
            && entry.State == UpstreamState.Ready && entry.Tools.Any(t => t.Name == tool));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(50, deadline.Token);
        }
    }
}
