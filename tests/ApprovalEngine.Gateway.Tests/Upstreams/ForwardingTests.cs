// Upstreams speak 2025-11-25, where logging is current; the SDK marks it obsolete (MCP9005) for 2026-07-28.
#pragma warning disable MCP9005

using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

public sealed class ForwardingTests : IAsyncLifetime
{
    private readonly UpstreamPool pool = PoolTestKit.NewPool();

    public async Task InitializeAsync()
    {
        await pool.ApplyAsync(Peers.Config(Peers.EverythingStdio(), Peers.FixtureStdio("fixture")));
        await pool.WaitForCatalogAsync(
            c => c.Upstreams["fixture"].State == UpstreamState.Ready
                && c.Upstreams["everything"] is { State: UpstreamState.Ready } e && e.Tools.Any(t => t.Name == "trigger-elicitation-request"),
            "both ready");
    }

    public async Task DisposeAsync() => await pool.DisposeAsync();

    [Fact]
    public async Task CallTool_LongRunningOperation_ForwardsProgressSteps()
    {
        var progress = new RecordingProgress();

        var result = await pool.CallAsync("everything", "trigger-long-running-operation", new { duration = 1.5, steps = 3 }, Peers.Context(progress: progress));

        Assert.Contains("Long running operation completed", result.Text(), StringComparison.Ordinal);

        // Steps 1 and 2 come half a second before the result. The last one is sent just before the result, and the
        // SDK handles incoming messages concurrently, so it can be handled after the call is over and be dropped
        // (progress after the result means nothing to the agent).
        await progress.WaitForAsync(2);
        var steps = progress.Values.Select(v => (double)v.Progress).Order().ToList();
        Assert.Equal([1d, 2d], steps.Take(2));
        Assert.All(steps, step => Assert.InRange(step, 1, 3));
        Assert.Equal(steps.Count, steps.Distinct().Count());
        Assert.All(progress.Values, v => Assert.Equal(3f, v.Total));
    }

    [Fact]
    public async Task CallTool_CallerCancels_UpstreamSeesTheCancellation()
    {
        var channel = new RecordingChannel();
        using var cancel = new CancellationTokenSource();
        var call = pool.CallAsync("fixture", "block", new { log = "blocking now" }, Peers.Context(channel: channel), cancel.Token);

        // The log message shows the upstream handler is running; then the agent gives up.
        await channel.FirstLog.WaitAsync(PoolTestKit.Patience);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await pool.WaitForCancellationsAsync("fixture", 1);
    }

    [Fact]
    public async Task CallTool_CallerCancelsOverStreamableHttp_UpstreamSeesTheCancellation()
    {
        // Over HTTP the SDK only aborts the POST, which the protocol says is not a cancellation.
        await using var peer = await HttpPeer.StartFixtureAsync();
        await using var remote = PoolTestKit.NewPool();
        await remote.ApplyAsync(Peers.Config(Peers.Http("fixture", peer.Url)));
        await remote.WaitForReadyAsync("fixture");
        var channel = new RecordingChannel();
        using var cancel = new CancellationTokenSource();
        var call = remote.CallAsync("fixture", "block", new { log = "blocking now" }, Peers.Context(channel: channel), cancel.Token);

        await channel.FirstLog.WaitAsync(PoolTestKit.Patience);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await remote.WaitForCancellationsAsync("fixture", 1);
        Assert.Equal("still here", (await remote.CallAsync("fixture", "echo", new { text = "still here" })).Text());
    }

    [Fact]
    public async Task CallTool_UpstreamLogs_RelayedToTheCallsChannel()
    {
        var channel = new RecordingChannel();
        var bystander = new RecordingChannel();
        using var cancel = new CancellationTokenSource();
        var call = pool.CallAsync("fixture", "block", new { log = "hello agent" }, Peers.Context(channel: channel), cancel.Token);

        var log = await channel.FirstLog.WaitAsync(PoolTestKit.Patience);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        Assert.Equal(LoggingLevel.Info, log.Level);
        Assert.Equal("fixture", log.Logger);
        Assert.Equal("hello agent", log.Data.GetString());

        // A channel of a call on another upstream hears nothing.
        await pool.CallAsync("everything", "echo", new { message = "x" }, Peers.Context(channel: bystander));
        Assert.Empty(bystander.Logs);
    }

    [Fact]
    public async Task CallTool_UpstreamElicits_RelayedToTheOnlyCapableChannel()
    {
        var channel = new RecordingChannel(answer: _ => new ElicitResult
        {
            Action = "accept",
            Content = new Dictionary<string, JsonElement> { ["name"] = JsonSerializer.SerializeToElement("Ada Lovelace"), ["check"] = JsonSerializer.SerializeToElement(true) },
        });

        var result = await pool.CallAsync("everything", "trigger-elicitation-request", context: Peers.Context(channel: channel));

        var request = Assert.Single(channel.Elicitations);
        Assert.Equal("Please provide inputs for the following fields:", request.Message);
        Assert.Contains("name", request.RequestedSchema!.Properties.Keys);
        Assert.Contains("Name: Ada Lovelace", result.Text(), StringComparison.Ordinal);
        Assert.Contains("Agreed to terms: true", result.Text(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallTool_ChannelWithoutElicitation_UpstreamGetsDecline()
    {
        var channel = new RecordingChannel(supportsElicitation: false);

        var result = await pool.CallAsync("everything", "trigger-elicitation-request", context: Peers.Context(channel: channel));

        Assert.Empty(channel.Elicitations);
        Assert.Contains("declined", result.Text(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallTool_TwoCapableCallsOnSharedConnection_ElicitationDeclined()
    {
        // Two agents' calls are in flight on the shared stdio connection; the elicitation could belong to either.
        var blocker = new RecordingChannel();
        var asker = new RecordingChannel(answer: _ => new ElicitResult { Action = "accept" });
        using var cancel = new CancellationTokenSource();
        var blocking = pool.CallAsync("fixture", "block", new { log = "in flight" }, Peers.Context(channel: blocker), cancel.Token);
        await blocker.FirstLog.WaitAsync(PoolTestKit.Patience);

        var result = await pool.CallAsync("fixture", "elicit", context: Peers.Context(channel: asker));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocking);
        Assert.Empty(asker.Elicitations);
        Assert.Empty(blocker.Elicitations);
        Assert.Equal("decline", JsonDocument.Parse(result.Text()).RootElement.GetProperty("action").GetString());
    }

    [Fact]
    public async Task CallTool_UpstreamAnswersJsonRpcError_McpExceptionKeepsTheCode()
    {
        var error = await Assert.ThrowsAsync<McpProtocolException>(() => pool.CallAsync("fixture", "fail", new { code = -32001, message = "no such ticket" }));

        Assert.Equal(-32001, (int)error.ErrorCode);
        Assert.Contains("no such ticket", error.Message, StringComparison.Ordinal);
        Assert.Equal("echo", (await pool.CallAsync("fixture", "echo", new { text = "echo" })).Text());
    }

    [Fact]
    public async Task CallTool_UnknownUpstream_Unavailable()
    {
        var error = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => pool.CallAsync("nope", "echo"));

        Assert.Equal("nope", error.Upstream);
        Assert.Contains("not configured", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadResourceAndGetPrompt_ServerEverything_Forwarded()
    {
        var entry = pool.Catalog.Upstreams["everything"];
        var resource = entry.Resources[0];
        var context = Peers.Context();

        var read = await pool.ReadResourceAsync("everything", resource.Uri, context, CancellationToken.None);
        var prompt = await pool.GetPromptAsync("everything", "simple-prompt", null, context, CancellationToken.None);

        Assert.NotEmpty(read.Contents);
        Assert.Equal(resource.Uri, read.Contents[0].Uri);
        Assert.NotEmpty(prompt.Messages);
    }

    [Fact]
    public async Task SetLoggingLevel_ReachesUpstreamsWithLogging_IgnoresTheOthers()
    {
        // "quiet" advertises no logging and "down" never starts: neither may get the request, nor fail it.
        await pool.ApplyAsync(Peers.Config(
            Peers.EverythingStdio(), Peers.FixtureStdio("fixture"), Probe("loud", "--logging"), Probe("quiet"), Peers.Stdio("down", [], command: "/nonexistent/mcp-server")));
        var catalog = await pool.WaitForCatalogAsync(
            c => c.Upstreams["loud"].State == UpstreamState.Ready && c.Upstreams["quiet"].State == UpstreamState.Ready && c.Upstreams["down"].State == UpstreamState.Failed,
            "loud and quiet ready, down failed");
        Assert.NotNull(catalog.Upstreams["loud"].Capabilities?.Logging);
        Assert.Null(catalog.Upstreams["quiet"].Capabilities?.Logging);

        await pool.SetLoggingLevelAsync(LoggingLevel.Warning, CancellationToken.None);

        var (loudCalls, loudLevels) = await ReceivedAsync(pool, "loud");
        var (quietCalls, _) = await ReceivedAsync(pool, "quiet");
        Assert.Equal(1, loudCalls);
        Assert.Equal(["warning"], loudLevels);
        Assert.Equal(0, quietCalls);
        Assert.Equal("warning", (await pool.CallAsync("fixture", "logging-level")).Text());
    }

    [Fact]
    public async Task SetLoggingLevel_UpstreamsConnectingLater_GetTheLevelOnlyIfTheyLog()
    {
        await pool.SetLoggingLevelAsync(LoggingLevel.Error, CancellationToken.None);

        // Started after the agent chose a level: each new connection is told the level it missed, if it has logging.
        await pool.ApplyAsync(Peers.Config(Peers.EverythingStdio(), Peers.FixtureStdio("fixture"), Probe("loud", "--logging"), Probe("quiet")));
        await pool.WaitForReadyAsync("loud", "quiet");

        var (loudCalls, loudLevels) = await ReceivedAsync(pool, "loud");
        var (quietCalls, _) = await ReceivedAsync(pool, "quiet");
        Assert.Equal(1, loudCalls);
        Assert.Equal(["error"], loudLevels);
        Assert.Equal(0, quietCalls);
    }

    [Fact]
    public async Task SetLoggingLevel_UpstreamRefusesIt_LoggedNotThrown()
    {
        var logs = new RecordingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var logged = new UpstreamPool(TimeProvider.System, factory);
        await logged.ApplyAsync(Peers.Config(Probe("refuser", "--logging", "--refuse-level")));
        await logged.WaitForReadyAsync("refuser");

        await logged.SetLoggingLevelAsync(LoggingLevel.Debug, CancellationToken.None);

        var (calls, levels) = await ReceivedAsync(logged, "refuser");
        Assert.Equal(1, calls);
        Assert.Empty(levels);
        var entry = Assert.Single(logs.Entries, e => e.Contains(" 3212: ", StringComparison.Ordinal));
        Assert.StartsWith("Warning ", entry, StringComparison.Ordinal);
        Assert.Contains("upstream refuser failed: the server answered with JSON-RPC error -32602", entry, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SetLoggingLevel_UpstreamNeverAnswersItOnConnect_ConnectsAnywayAndLogsTheSilence()
    {
        var logs = new RecordingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var logged = new UpstreamPool(TimeProvider.System, factory);
        await logged.SetLoggingLevelAsync(LoggingLevel.Info, CancellationToken.None);

        // A new connection is told the level first; an upstream that never answers must not keep it from serving.
        await logged.ApplyAsync(Peers.Config(Probe("mute", "--logging", "--ignore-level") with { Timeout = TimeSpan.FromSeconds(1) }));
        await logged.WaitForReadyAsync("mute");

        var (calls, levels) = await ReceivedAsync(logged, "mute");
        Assert.Equal(1, calls);
        Assert.Empty(levels);
        var entry = Assert.Single(logs.Entries, e => e.Contains(" 3212: ", StringComparison.Ordinal));
        Assert.Contains("upstream mute failed: no answer within 1s", entry, StringComparison.Ordinal);
    }

    /// <summary>A probe-server.mjs upstream: counts what it receives; <c>--logging</c> makes it advertise logging.</summary>
    private static UpstreamConfig Probe(string name, params string[] flags) =>
        Peers.Stdio(name, [Path.Combine(Path.GetDirectoryName(Peers.Fixture)!, "probe-server.mjs"), name, .. flags]);

    /// <summary>How many logging/setLevel requests the probe received, and the levels it accepted.</summary>
    private static async Task<(int SetLevelCalls, List<string> Levels)> ReceivedAsync(UpstreamPool pool, string probe)
    {
        var received = JsonDocument.Parse((await pool.CallAsync(probe, "received")).Text()).RootElement;
        var calls = received.GetProperty("methods").TryGetProperty("logging/setLevel", out var count) ? count.GetInt32() : 0;
        return (calls, [.. received.GetProperty("levels").EnumerateArray().Select(level => level.GetString()!)]);
    }
}
