using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ApprovalEngine.Gateway.Upstreams;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

public sealed class ResilienceTests
{
    [Fact]
    public async Task CallTool_ProcessExitsMidCall_UnavailableAtOnceThenRecovers()
    {
        // A long timeout: the failure must come from the crash, not from the clock.
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("fixture", timeout: TimeSpan.FromMinutes(5))));
        await pool.WaitForReadyAsync("fixture");
        var failed = pool.WaitForCatalogAsync(c => c.Upstreams["fixture"].State == UpstreamState.Failed, "fixture failed");

        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("fixture", "crash", new { code = 7 }));
        watch.Stop();

        Assert.Equal("fixture", error.Upstream);
        Assert.Equal("upstream 'fixture' failed during tools/call 'crash': the process exited with code 7", error.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");

        var failure = (await failed).Upstreams["fixture"];
        Assert.Equal("the process exited with code 7", failure.LastError);
        Assert.NotEmpty(failure.Tools);

        await pool.WaitForReadyAsync("fixture");
        Assert.Equal("back", (await pool.CallAsync("fixture", "echo", new { text = "back" })).Text());
    }

    [Fact]
    public async Task CallTool_UpstreamTooSlow_ClearTimeoutAndPoolStaysUsable()
    {
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("fixture", timeout: TimeSpan.FromSeconds(1))));
        await pool.WaitForReadyAsync("fixture");

        var error = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("fixture", "block"));

        Assert.Equal("upstream 'fixture' did not answer tools/call 'block' within 1s", error.Message);
        Assert.Equal("after", (await pool.CallAsync("fixture", "echo", new { text = "after" })).Text());

        // The upstream was told: its handler saw notifications/cancelled.
        await pool.WaitForCancellationsAsync("fixture", 1);
        Assert.Equal(UpstreamState.Ready, pool.Catalog.Upstreams["fixture"].State);
    }

    [Fact]
    public async Task Start_CommandMissing_FailedWithSafeErrorAndRetriesOnTheBackoffClock()
    {
        var clock = new ManualTimeProvider();
        await using var pool = PoolTestKit.NewPool(clock);
        // An attempt shows as a move into Connecting (catalogs are published in order).
        var attempts = 0;
        UpstreamState? last = null;
        pool.CatalogChanged += c =>
        {
            if (c.Upstreams.TryGetValue("ghost", out var e) && e.State != last)
            {
                last = e.State;
                if (e.State == UpstreamState.Connecting)
                {
                    Interlocked.Increment(ref attempts);
                }
            }
        };
        var secret = "s3cr3t-value";
        await pool.ApplyAsync(Peers.Config(Peers.Stdio("ghost", ["--token", secret], new Dictionary<string, string> { ["TOKEN"] = secret }, command: "/nonexistent/mcp-server")));

        var failed = (await pool.WaitForCatalogAsync(c => c.Upstreams["ghost"].State == UpstreamState.Failed, "ghost failed")).Upstreams["ghost"];
        Assert.Equal(1, Volatile.Read(ref attempts));
        Assert.Equal("cannot start the process (no such file or directory)", failed.LastError);
        var call = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("ghost", "anything"));
        Assert.DoesNotContain(secret, call.Message, StringComparison.Ordinal);
        Assert.Contains("cannot start the process", call.Message, StringComparison.Ordinal);

        // Nothing happens until the clock passes the first backoff (at most 0.6 s), then it tries again.
        var retried = pool.WaitForCatalogAsync(_ => Volatile.Read(ref attempts) >= 2, "a second attempt");
        await WaitForTimerAsync(clock);
        Assert.Equal(1, Volatile.Read(ref attempts));
        clock.Advance(TimeSpan.FromMilliseconds(600));
        await retried;
    }

    [Fact]
    public async Task Crash_ServerHadAChild_ChildIsKilledToo()
    {
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("fixture", timeout: TimeSpan.FromMinutes(5))));
        await pool.WaitForReadyAsync("fixture");
        var child = int.Parse((await pool.CallAsync("fixture", "spawn-child")).Text(), CultureInfo.InvariantCulture);
        Assert.True(ProcessTable.IsAlive(child));

        // When the server dies its child is re-parented and no longer in our tree; it must not survive the server.
        await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("fixture", "crash"));

        Assert.Empty(await ProcessTable.WaitUntilGoneAsync([child], PoolTestKit.Patience));
        await pool.WaitForReadyAsync("fixture");
    }

    [Fact]
    public async Task Restart_AfterCrash_NewProcessServesCalls()
    {
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("fixture", timeout: TimeSpan.FromMinutes(5))));
        await pool.WaitForReadyAsync("fixture");
        var first = Pid(await pool.CallAsync("fixture", "pid"));

        await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("fixture", "crash"));
        await pool.WaitForCatalogAsync(c => c.Upstreams["fixture"].State != UpstreamState.Ready, "fixture not ready");
        await pool.WaitForReadyAsync("fixture");
        var second = Pid(await pool.CallAsync("fixture", "pid"));

        Assert.NotEqual(first, second);
        Assert.False(ProcessTable.IsAlive(first));
        Assert.Equal(Environment.ProcessId, ProcessTable.Parent(second));
    }

    private static int Pid(ModelContextProtocol.Protocol.CallToolResult result) =>
        JsonDocument.Parse(result.Text()).RootElement.GetProperty("pid").GetInt32();

    private static async Task WaitForTimerAsync(ManualTimeProvider clock)
    {
        // The restart loop parks on a timer of the manual clock; wait (bounded) until it has.
        var watch = Stopwatch.StartNew();
        while (clock.ActiveTimerCount == 0)
        {
            Assert.True(watch.Elapsed < PoolTestKit.Patience, "the restart loop never waited on the clock");
            await Task.Delay(10);
        }
    }
}
