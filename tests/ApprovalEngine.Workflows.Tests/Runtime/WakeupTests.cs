using System.Diagnostics;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Xunit.Abstractions;

namespace ApprovalEngine.Workflows.Tests.Runtime;

public sealed class WakeupTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AwaitOnOtherNode_PollDisabled_WokenByNotify()
    {
        var db = await TestPostgres.CreateDatabaseAsync(nameof(WakeupTests));
        await using var signaller = await TestNode.StartAsync(db, o => o.RunWorker = false);
        // The waiting node never polls: only a NOTIFY from the other node can wake it.
        await using var waiter = await TestNode.StartAsync(db, o =>
        {
            o.RunWorker = false;
            o.PollInterval = Timeout.InfiniteTimeSpan;
        });
        await Db.WaitUntilAsync(() => Task.FromResult(waiter.Hub.Listening), TimeSpan.FromSeconds(10), "the waiter listens");

        var latencies = new List<double>();
        for (var i = 0; i < 40; i++)
        {
            var id = (await signaller.Runtime.StartAsync($"w{i}", TestRequests.Create())).Workflow.Id;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var awaiting = waiter.Runtime.AwaitAsync(id, s => s.State.Status == ApprovalStatus.Approved, cts.Token);
            await Task.Delay(5);
            var started = Stopwatch.GetTimestamp();
            await signaller.Runtime.SignalAsync(id, new SignalRequest("approve", "a", "alice@example.com"));
            var woken = await awaiting;
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            Assert.Equal(ApprovalStatus.Approved, woken.State.Status);
        }

        latencies.Sort();
        output.WriteLine($"cross-node signal-to-wake latency (poll disabled, n={latencies.Count}): p50 {latencies[latencies.Count / 2]:F2} ms, max {latencies[^1]:F2} ms");
        Assert.Equal(0, waiter.Hub.WaitedWorkflows);
    }
}
