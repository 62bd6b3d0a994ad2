using System.Text.Json.Nodes;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ModelContextProtocol.Protocol;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Approvals;

/// <summary>A real gateway process stopped with SIGTERM while one agent call runs upstream and another waits for its approval.</summary>
public sealed class GracefulShutdownTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Sigterm_RunningCallFinishes_HeldCallGetsPending_ApprovalLivesOnAnotherNode()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        await using var scene = await DurabilityScene.CreateAsync(
            _ => $$"""
                  fx:
                    type: stdio
                    command: {{NodePeers.Node}}
                    args: {{DurabilityScene.YamlList([Path.Combine(NodePeers.PeersDirectory, "upstream-fixtures", "fixture-server.mjs"), "stdio"])}}
                """,
            ["fx"],
            """
                    - {name: running, action: allow, match: {tools: [fx__slow-write], arguments: [{path: path, glob: "*running*"}]}}
                    - {name: slow-writes, action: approve, match: {tools: [fx__slow-write]}}
                """,
            output);
        var running = Path.Combine(scene.Directory, "running.txt");
        var held = Path.Combine(scene.Directory, "held.txt");
        var a = await scene.StartNodeAsync("A", null, ct);
        var b = await scene.StartNodeAsync("B", null, ct);

        Task<CallToolResult> heldCall, runningCall;
        await using var client = await scene.ConnectAsync(a, "fx__slow-write", ct);
        heldCall = client.CallToolAsync("fx__slow-write", DurabilityScene.Arguments(("path", held), ("line", "held")), cancellationToken: ct).AsTask();
        var pending = await scene.WorkflowAsync("held.txt", ct);

        // The fixture writes first and then waits 3 s: the call is running upstream when the node is told to stop.
        runningCall = client.CallToolAsync("fx__slow-write", DurabilityScene.Arguments(("path", running), ("line", "ran"), ("ms", 3000)), cancellationToken: ct).AsTask();
        await scene.EventuallyAsync("the running call reached the upstream", () => Task.FromResult<bool?>(File.Exists(running) ? true : null), ct);
        var exit = await a.TerminateAsync(TimeSpan.FromSeconds(30));

        var heldResult = await heldCall;
        var runningResult = await runningCall;
        Assert.Equal(0, exit);
        Assert.NotEqual(true, runningResult.IsError);
        Assert.Equal($"wrote {running}", Assert.IsType<TextContentBlock>(Assert.Single(runningResult.Content)).Text);
        var meta = heldResult.Meta!["approvalEngine/approval"]!;
        Assert.Equal((pending.Id.ToString(), "pending"), (meta["id"]!.GetValue<string>(), meta["state"]!.GetValue<string>()));
        Assert.False(File.Exists(held));
        Assert.Equal(ApprovalStatus.Pending, (await scene.Runtime.GetAsync(pending.Id, ct))!.State.Status);

        // The approval outlived the node: decided on B, the agent's retry on B joins it and gets the result.
        var (status, _) = await scene.DecideAsync(b, pending.Id, "approve");
        Assert.Equal(200, status);
        await using var again = await scene.ConnectAsync(b, "fx__slow-write", ct);
        var retried = await again.CallToolAsync("fx__slow-write", DurabilityScene.Arguments(("path", held), ("line", "held")), cancellationToken: ct);
        Assert.NotEqual(true, retried.IsError);
        Assert.Equal(["held"], await File.ReadAllLinesAsync(held, ct));
        Assert.Equal(["ran"], await File.ReadAllLinesAsync(running, ct));
    }
}
