using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>Upstreams follow the configuration, and nothing they started outlives them.</summary>
public sealed class LifecycleTests
{
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Apply_AddRemoveChange_ProcessesFollowTheConfiguration()
    {
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("a"), Peers.FixtureStdio("b")));
        await pool.WaitForReadyAsync("a", "b");
        var a1 = Pid(await pool.CallAsync("a", "pid"));
        var b1 = Pid(await pool.CallAsync("b", "pid"));

        // b removed, c added, a the same (parsed afresh: equal values in new collections).
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("a"), Peers.FixtureStdio("c")));

        Assert.Empty(await ProcessTable.WaitUntilGoneAsync([b1], ExitGrace));
        Assert.False(pool.Catalog.Upstreams.ContainsKey("b"));
        await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("b", "echo"));
        await pool.WaitForReadyAsync("a", "c");
        Assert.Equal(a1, Pid(await pool.CallAsync("a", "pid")));

        // a changed (its environment): restarted, old process gone, new one sees the change.
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("a", new Dictionary<string, string> { ["MODE"] = "v2" }), Peers.FixtureStdio("c")));

        Assert.Empty(await ProcessTable.WaitUntilGoneAsync([a1], ExitGrace));
        await pool.WaitForReadyAsync("a");
        Assert.NotEqual(a1, Pid(await pool.CallAsync("a", "pid")));
        Assert.Equal("v2", (await pool.CallAsync("a", "env", new { name = "MODE" })).Text());
    }

    [Fact]
    public async Task Dispose_NpxLikeLauncherTree_NoProcessRemains()
    {
        // launcher -> server -> child, like npx -> node -> a server's helper.
        var upstream = Peers.Stdio("tree", [Peers.Launcher, Peers.Node, Peers.Fixture, "stdio"]);
        var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(upstream));
        await pool.WaitForReadyAsync("tree");
        var server = JsonDocument.Parse((await pool.CallAsync("tree", "pid")).Text()).RootElement;
        var child = int.Parse((await pool.CallAsync("tree", "spawn-child")).Text(), System.Globalization.CultureInfo.InvariantCulture);
        var launcher = server.GetProperty("ppid").GetInt32();
        Assert.Equal(Environment.ProcessId, ProcessTable.Parent(launcher));
        var tree = ProcessTable.Descendants(launcher).Append(launcher).ToList();
        Assert.Contains(server.GetProperty("pid").GetInt32(), tree);
        Assert.Contains(child, tree);

        await pool.DisposeAsync();

        Assert.Empty(await ProcessTable.WaitUntilGoneAsync(tree, ExitGrace));
        Assert.Empty(pool.Catalog.Upstreams);
    }

    [Fact]
    public async Task Dispose_DuringHandshake_NoProcessRemains()
    {
        var tag = Guid.NewGuid().ToString("N");
        var upstream = Peers.EverythingStdio() with { Env = new Dictionary<string, string> { ["AE_TEST_TAG"] = tag } };
        var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(upstream));

        // Disposed as soon as the process exists, long before server-everything has answered initialize.
        var started = await WaitForAsync(() => ProcessTable.WithEnvironment("AE_TEST_TAG", tag), found => found.Count > 0);
        Assert.NotEqual(UpstreamState.Ready, pool.Catalog.Upstreams["everything"].State);
        await pool.DisposeAsync();

        Assert.Empty(await ProcessTable.WaitUntilGoneAsync(started, ExitGrace));
        Assert.Empty(ProcessTable.WithEnvironment("AE_TEST_TAG", tag));
    }

    [Fact]
    public async Task Dispose_CallInFlight_CallFailsAsUnavailable()
    {
        var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("fixture")));
        await pool.WaitForReadyAsync("fixture");
        var channel = new RecordingChannel();
        var call = pool.CallAsync("fixture", "block", new { log = "started" }, Peers.Context(channel: channel));
        await channel.FirstLog.WaitAsync(PoolTestKit.Patience);

        await pool.DisposeAsync();

        var error = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => call);
        Assert.Contains("upstream 'fixture'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_ServerDiesMidCall_UnavailableThenFailedWhileItIsDown()
    {
        var peer = await HttpPeer.StartFixtureAsync();
        await using var pool = PoolTestKit.NewPool();
        try
        {
            await pool.ApplyAsync(Peers.Config(Peers.Http("api", peer.Url) with { Timeout = TimeSpan.FromMinutes(5) }));
            await pool.WaitForReadyAsync("api");
            var channel = new RecordingChannel();
            var call = pool.CallAsync("api", "block", new { log = "started" }, Peers.Context(channel: channel));
            await channel.FirstLog.WaitAsync(PoolTestKit.Patience);

            await peer.DisposeAsync();

            var error = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => call);
            Assert.Contains("upstream 'api'", error.Message, StringComparison.Ordinal);
            // It keeps trying; with the server gone, the attempts fail to connect.
            var down = await pool.WaitForCatalogAsync(
                c => c.Upstreams["api"] is { State: UpstreamState.Failed, LastError: { } e } && e.StartsWith("cannot connect", StringComparison.Ordinal),
                "api failing to reconnect");
            Assert.Equal("cannot connect (ConnectionRefused)", down.Upstreams["api"].LastError);
        }
        finally
        {
            await peer.DisposeAsync();
        }
    }

    [Fact]
    public async Task AddUpstreams_HostLifetime_StartsReloadsAndStopsEverything()
    {
        var directory = Directory.CreateTempSubdirectory("ae-upstreams-").FullName;
        try
        {
            var path = Path.Combine(directory, "gateway.yaml");
            await File.WriteAllTextAsync(path, Yaml("one"));
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton(new GatewayConfigMonitor(path, TimeProvider.System, NullLogger<GatewayConfigMonitor>.Instance));
            builder.Services.AddUpstreams();
            using var host = builder.Build();
            await host.StartAsync();
            var upstreams = host.Services.GetRequiredService<IUpstreams>();
            await upstreams.WaitForReadyAsync("one");
            var one = Pid(await upstreams.CallAsync("one", "pid"));

            await File.WriteAllTextAsync(path, Yaml("one", "two"));
            Assert.True(host.Services.GetRequiredService<GatewayConfigMonitor>().Reload());
            await upstreams.WaitForReadyAsync("one", "two");
            var two = Pid(await upstreams.CallAsync("two", "pid"));
            Assert.Equal(one, Pid(await upstreams.CallAsync("one", "pid")));

            await host.StopAsync();

            Assert.Empty(await ProcessTable.WaitUntilGoneAsync([one, two], ExitGrace));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<T> WaitForAsync<T>(Func<T> probe, Func<T, bool> done)
    {
        // Process creation has no event to await from here; look often, bounded.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var value = probe();
            if (done(value))
            {
                return value;
            }

            Assert.True(watch.Elapsed < PoolTestKit.Patience, "the condition never held");
            await Task.Delay(5);
        }
    }

    private static string Yaml(params string[] names)
    {
        var fixture = JsonSerializer.Serialize(Peers.Fixture);
        return "upstreams:\n" + string.Concat(names.Select(n => $"  {n}:\n    type: stdio\n    command: node\n    args: [{fixture}, stdio]\n"));
    }

    private static int Pid(CallToolResult result) => JsonDocument.Parse(result.Text()).RootElement.GetProperty("pid").GetInt32();
}
