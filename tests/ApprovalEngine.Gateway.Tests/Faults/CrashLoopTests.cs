using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using ApprovalEngine.Gateway.Telemetry;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Gateway.Tests.Telemetry;
using ApprovalEngine.Gateway.Tests.Upstreams;
using ApprovalEngine.Testing;
using ModelContextProtocol.Client;
using Xunit.Abstractions;
using static ApprovalEngine.Gateway.Tests.Faults.FaultKit;

namespace ApprovalEngine.Gateway.Tests.Faults;

/// <summary>
/// An upstream that falls into a crash loop (it worked, then every start exits at once) behind a real gateway, next to
/// one that keeps working: clear errors at once, restarts spaced by the backoff, never more than one process of it.
/// </summary>
public sealed class CrashLoopTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);

    // The backoff waits 0.4-0.6 s, then 0.8-1.2 s, 1.6-2.4 s and 3.2-4.8 s: at most 3 restarts fit in 5 s, however fast
    // the machine. A restart without backoff (a node process starts in well under a second) would be many more.
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(5);
    private const int MaxRestartsInWindow = 4;

    [Fact]
    public async Task CallTool_UpstreamInACrashLoop_FailsAtOnceRestartsBackOffOneProcessAtATimeAndOthersKeepWorking()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        var directory = Directory.CreateTempSubdirectory("ae-crash-loop-").FullName;
        var starts = Path.Combine(directory, "starts.txt");
        var broken = Path.Combine(directory, "broken");
        var tag = Guid.NewGuid().ToString("N");
        var env = new Dictionary<string, string> { ["FIXTURE_STARTS"] = starts, ["FIXTURE_EXIT_IF_EXISTS"] = broken, ["FAULT_TEST_TAG"] = tag };
        await using var gateway = await McpGateway.StartAsync($$"""
            upstreams:
            {{FixtureUpstream("ok", "60s")}}{{FixtureUpstream("loop", "60s", env)}}
            agents:
              agent:
                owner: owner@example.com
                keys: ["{key:agent}"]
            bundles:
              work:
                upstreams: [ok, loop]
                agents: [agent]
            """, directory: directory);
        var measurements = new ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)>();
        using var listener = TraceTests.Listen(measurements, gateway.Get<GatewayMetrics>().Meter);
        await using var client = await AgentClients.ConnectAsync(gateway.Url("work"), gateway.KeyOf("agent"), "loop__echo", ct);
        while ((await client.ListToolsAsync(cancellationToken: ct)).All(t => t.Name != "ok__echo"))
        {
            await Task.Delay(100, ct);
        }

        // The loop begins: the running process dies with the call, and every restart exits before speaking MCP.
        await File.WriteAllTextAsync(broken, "", ct);
        var crash = await client.CallToolAsync("loop__crash", cancellationToken: ct);
        var startsBefore = Lines(starts);
        var windowStart = Stopwatch.GetTimestamp();
        var maxAlive = 0;
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                maxAlive = Math.Max(maxAlive, ProcessTable.WithEnvironment("FAULT_TEST_TAG", tag).Count);
                await Task.Delay(20, CancellationToken.None);
            }
        }, CancellationToken.None);

        var failures = new List<(string Text, TimeSpan Took)>();
        var okAnswers = new List<string>();
        while (Since(windowStart) < Window)
        {
            var started = Stopwatch.GetTimestamp();
            var failed = await client.CallToolAsync("loop__echo", new Dictionary<string, object?> { ["text"] = "hello" }, cancellationToken: ct);
            failures.Add((failed.IsError == true ? Text(failed) : "(not an error) " + Text(failed), Since(started)));
            okAnswers.Add(Text(await client.CallToolAsync("ok__echo", new Dictionary<string, object?> { ["text"] = "still here" }, cancellationToken: ct)));
            await Task.Delay(100, ct);
        }

        var restarts = Lines(starts) - startsBefore;
        var degraded = await WaitForReadyzAsync(
            gateway.CreateHttpClient(), r => r["upstreams"]?["loop"]?.GetValue<string>() == "failed" && r["upstreams"]?["ok"]?.GetValue<string>() == "ready", "loop failed and ok ready", ct);
        var audited = await gateway.LastAuditAsync("loop__echo");
        var unavailable = measurements.Count(m => m.Name == "approval_engine.upstream.errors"
            && (string?)m.Tags["approval_engine.upstream"] == "loop" && (string?)m.Tags["error.type"] == "unavailable");

        // The loop ends: the next restart (on the backoff clock) serves calls again, on the same gateway.
        File.Delete(broken);
        var recoveryStart = Stopwatch.GetTimestamp();
        while (true)
        {
            var again = await client.CallToolAsync("loop__echo", new Dictionary<string, object?> { ["text"] = "back" }, cancellationToken: ct);
            if (again.IsError != true)
            {
                Assert.Equal("back", Text(again));
                break;
            }

            await Task.Delay(100, ct);
        }

        var recovery = Since(recoveryStart);
        await sampling.CancelAsync();
        await sampler;
        var aliveAfter = ProcessTable.WithEnvironment("FAULT_TEST_TAG", tag).Count;

        var slowest = failures.Max(f => f.Took);
        TestFigures.Report("Faults: crash loop", string.Create(CultureInfo.InvariantCulture,
            $"{failures.Count} calls in {Window.TotalSeconds:0} s all failed at once (slowest {Ms(slowest)}, median {Ms(failures.Select(f => f.Took).Order().ElementAt(failures.Count / 2))}); {restarts} restarts in the window; at most {maxAlive} process(es) of it alive; back {Ms(recovery)} after the cause went"), output);
        Assert.True(crash.IsError);
        Assert.Equal("upstream 'loop' failed during tools/call 'crash': the process exited with code 3", Text(crash));
        Assert.All(failures, f => Assert.Matches(
            "^upstream 'loop' (is unavailable: the process exited with code 3|failed during tools/call 'echo': the process exited with code 3)$", f.Text));
        Assert.All(okAnswers, a => Assert.Equal("still here", a));
        Assert.InRange(restarts, 1, MaxRestartsInWindow);
        Assert.InRange(maxAlive, 0, 1);
        Assert.Equal(1, aliveAfter);
        Assert.Equal("degraded", degraded["status"]!.GetValue<string>());
        Assert.Equal("upstreams not ready: loop (failed)", degraded["reason"]!.GetValue<string>());
        Assert.Equal(("upstream_error", "loop"), (audited.Outcome, audited.Upstream));
        Assert.Equal(failures.Count + 1, unavailable);
    }

    private static int Lines(string path) => File.Exists(path) ? File.ReadAllLines(path).Length : 0;
}
