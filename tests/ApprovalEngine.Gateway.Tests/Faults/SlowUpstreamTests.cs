using System.Collections.Concurrent;
using System.Globalization;
using ApprovalEngine.Gateway.Telemetry;
using ApprovalEngine.Gateway.Tests.Api;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Gateway.Tests.Telemetry;
using ApprovalEngine.Gateway.Upstreams;
using ApprovalEngine.Testing;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Xunit.Abstractions;
using static ApprovalEngine.Gateway.Tests.Faults.FaultKit;

namespace ApprovalEngine.Gateway.Tests.Faults;

/// <summary>
/// Bursts of calls to a tool slower than its upstream's timeout, through a real gateway in this process: each call
/// times out with a clear error, the upstream is told to stop, and nothing is left behind. Measures this process's
/// heap and handles, so it runs alone.
/// </summary>
[Collection(MeasuredAlone.Name)]
public sealed class SlowUpstreamTests(ITestOutputHelper output)
{
    private const int Burst = 100;
    private const int Clients = 4;
    private const string TimeoutError = "upstream 'slow' did not answer tools/call 'sleep' within 500ms";

    // A burst that left its calls' exchanges behind (request and response messages, token sources, registrations)
    // would keep well over this much per call. Between two clean bursts the heap moves by up to about 0.5 MB either way.
    private const long MaxRetainedBytesPerCall = 16 * 1024;

    // Sockets and pipes are reused between bursts; one left open per call would be a whole burst's worth.
    private const int MaxNewHandles = Burst / 4;

    [Fact]
    public async Task CallTool_TwoBurstsSlowerThanTheTimeout_EachTimesOutTheUpstreamIsCancelledAndNothingAccumulates()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var gateway = await McpGateway.StartAsync($$"""
            upstreams:
            {{FixtureUpstream("slow", "500ms")}}
            agents:
              agent:
                owner: owner@example.com
                keys: ["{key:agent}"]
            bundles:
              work:
                upstreams: [slow]
                agents: [agent]
            """);
        var pool = Assert.IsType<UpstreamPool>(gateway.Get<IUpstreams>());
        var measurements = new ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)>();
        using var listener = TraceTests.Listen(measurements, gateway.Get<GatewayMetrics>().Meter);
        var clients = new List<McpClient>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                clients.Add(await AgentClients.ConnectAsync(gateway.Url("work"), gateway.KeyOf("agent"), "slow__sleep", ct));
            }

            var first = await BurstAsync(clients, pool, expectedCancellations: Burst, ct);
            var heapAfterFirst = LiveHeap();
            var handlesAfterFirst = OpenHandles();
            var second = await BurstAsync(clients, pool, expectedCancellations: 2 * Burst, ct);
            var heapAfterSecond = LiveHeap();
            var handlesAfterSecond = OpenHandles();
            var timeouts = measurements.Count(m => m.Name == "approval_engine.upstream.errors"
                && (string?)m.Tags["approval_engine.upstream"] == "slow" && (string?)m.Tags["error.type"] == "timeout");
            var audited = await gateway.LastAuditAsync("slow__sleep");

            TestFigures.Report("Faults: slow upstream", string.Create(CultureInfo.InvariantCulture,
                $"2 bursts of {Burst} calls against a 500 ms timeout answered in {Ms(first)} and {Ms(second)}; heap {heapAfterFirst / 1024} KB -> {heapAfterSecond / 1024} KB, open handles {handlesAfterFirst} -> {handlesAfterSecond} between bursts"), output);
            Assert.Equal(2 * Burst, timeouts);
            Assert.Equal(("timeout", TimeoutError), (audited.Outcome, audited.Error));
            Assert.True(heapAfterSecond - heapAfterFirst < Burst * MaxRetainedBytesPerCall, $"the heap grew by {heapAfterSecond - heapAfterFirst} bytes over the second burst");
            Assert.True(handlesAfterSecond - handlesAfterFirst < MaxNewHandles, $"{handlesAfterSecond - handlesAfterFirst} more open handles after the second burst");
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// <see cref="Burst"/> concurrent calls that all time out; returns once the upstream has seen every one of them
    /// cancelled and none is in flight in the gateway any more. Returns how long the burst's answers took.
    /// </summary>
    private static async Task<TimeSpan> BurstAsync(List<McpClient> clients, UpstreamPool pool, int expectedCancellations, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var calls = Enumerable.Range(0, Burst).Select(i => clients[i % clients.Count]
            .CallToolAsync("slow__sleep", new Dictionary<string, object?> { ["ms"] = 30_000 }, cancellationToken: ct).AsTask());
        var results = await Task.WhenAll(calls);
        var took = Since(started);

        Assert.All(results, r => Assert.Equal((true, TimeoutError), (r.IsError == true, Text(r))));

        // notifications/cancelled is one-way: poll the fixture's count (bounded by the test's token).
        int cancelled;
        while ((cancelled = int.Parse(Text(await clients[0].CallToolAsync("slow__cancellations", cancellationToken: ct)), CultureInfo.InvariantCulture)) < expectedCancellations)
        {
            await Task.Delay(50, ct);
        }

        Assert.Equal(expectedCancellations, cancelled);
        Assert.Equal(0, pool.InFlightCount("slow"));
        return took;
    }
}
