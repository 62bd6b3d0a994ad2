using ApprovalEngine.Gateway.Upstreams;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>
/// The gateway as a real OS process with stdio upstreams (launcher trees, servers with children of their own, an
/// agent's own processes): what remains when it is stopped (SIGTERM) or killed (SIGKILL), and what the next gateway
/// to start does about the latter.
/// </summary>
[Collection(ProcessesAlone.Name)]
public sealed class GatewayProcessExitTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(150);
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Sigterm_LauncherTreesAndAgentProcesses_NoProcessRemains()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        await using var scene = await ProcessScene.CreateAsync(output);
        var gateway = await scene.StartAsync("stopped", ct);
        IReadOnlyList<int> started = [];
        try
        {
            await using (var plain = await ProcessScene.ConnectAsync(gateway, scene.PlainKey, ct))
            await using (var alice = await ProcessScene.ConnectAsync(gateway, scene.AliceKey, ct))
            {
                // Every kind of process: the shared launcher tree and fx, alice's own tree and fx, server-memory, and
                // a child of each fixture server.
                var sharedTree = await ProcessScene.PidAsync(plain, "tree", ct);
                var aliceTree = await ProcessScene.PidAsync(alice, "tree", ct);
                var sharedFx = await ProcessScene.PidAsync(plain, "fx", ct);
                var aliceFx = await ProcessScene.PidAsync(alice, "fx", ct);
                List<int> children =
                [
                    await ProcessScene.SpawnChildAsync(plain, "tree", ct),
                    await ProcessScene.SpawnChildAsync(alice, "tree", ct),
                    await ProcessScene.SpawnChildAsync(plain, "fx", ct),
                    await ProcessScene.SpawnChildAsync(alice, "fx", ct),
                ];
                ProcessScene.Text(await alice.CallToolAsync("memory__read_graph", cancellationToken: ct));

                started = GatewayProcessTree.Collect(gateway.Pid);
                output.WriteLine($"processes of {gateway} before SIGTERM:\n  {GatewayProcessTree.Describe(started)}");
                Assert.NotEqual(sharedTree.Pid, aliceTree.Pid);
                Assert.NotEqual(sharedFx.Pid, aliceFx.Pid);
                int[] expected = [sharedTree.Pid, sharedTree.Parent, aliceTree.Pid, aliceTree.Parent, sharedFx.Pid, aliceFx.Pid, .. children];
                Assert.All(expected, pid => Assert.Contains(pid, started));
                Assert.Equal(gateway.Pid, ProcessTable.Parent(sharedTree.Parent));
            }

            var exit = await gateway.TerminateAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(0, exit);
            var remaining = await ProcessTable.WaitUntilGoneAsync(started, ExitGrace);
            Assert.True(remaining.Count == 0, $"still running after the gateway stopped:\n  {GatewayProcessTree.Describe(remaining)}\n{gateway.Describe()}");
        }
        finally
        {
            GatewayProcessTree.KillRemaining(started);
        }
    }

    [Fact]
    public async Task Sigkill_LeftoversOfTheKilledGateway_NextGatewayKillsThemAndSparesALiveOnes()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        await using var scene = await ProcessScene.CreateAsync(output);
        var killed = await scene.StartAsync("killed", ct);
        var live = await scene.StartAsync("live", ct);
        IReadOnlyList<int> killedTree = [];
        try
        {
            int killedChild, liveChild;
            (int Pid, int Parent) liveServer;
            await using (var client = await ProcessScene.ConnectAsync(killed, scene.AliceKey, ct))
            {
                killedChild = await ProcessScene.SpawnChildAsync(client, "tree", ct);
                _ = await ProcessScene.SpawnChildAsync(client, "fx", ct);
                ProcessScene.Text(await client.CallToolAsync("memory__read_graph", cancellationToken: ct));
            }

            await using var liveClient = await ProcessScene.ConnectAsync(live, scene.AliceKey, ct);
            liveChild = await ProcessScene.SpawnChildAsync(liveClient, "tree", ct);
            liveServer = await ProcessScene.PidAsync(liveClient, "tree", ct);
            killedTree = GatewayProcessTree.Collect(killed.Pid);
            var liveTree = GatewayProcessTree.Collect(live.Pid);
            Assert.Contains(liveChild, liveTree);

            // SIGKILL of the gateway alone: nothing runs its shutdown, its children only see their stdin close.
            GatewayProcessTree.Signal(killed.Pid, GatewayProcessTree.SigKill);
            await WaitUntilAsync(() => killed.HasExited, ct);

            // Servers that exit at the end of their input go within moments (server-memory; the fixtures without
            // children); a server that waits for its child, the launcher above it and the child stay.
            var leftovers = await ProcessTable.WaitUntilGoneAsync(killedTree, TimeSpan.FromSeconds(2));
            output.WriteLine($"processes of {killed} left 2 s after SIGKILL:\n  {GatewayProcessTree.Describe(leftovers)}");
            Assert.Contains(killedChild, leftovers);

            var next = await scene.StartAsync("next", ct);

            var remaining = await ProcessTable.WaitUntilGoneAsync(leftovers, ExitGrace);
            Assert.True(remaining.Count == 0, $"still running after {next.Name} started:\n  {GatewayProcessTree.Describe(remaining)}\n{next.Describe()}");
            Assert.Contains("left behind by a gateway that is no longer running", next.Output, StringComparison.Ordinal);
            Assert.All(liveTree, pid => Assert.True(ProcessTable.IsAlive(pid), $"a process of the live gateway was killed: {pid}"));
            Assert.Equal(liveServer, await ProcessScene.PidAsync(liveClient, "tree", ct));
        }
        finally
        {
            GatewayProcessTree.KillRemaining(killedTree);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        // Bounded by the test's token.
        while (!condition())
        {
            await Task.Delay(20, cancellationToken);
        }
    }
}
