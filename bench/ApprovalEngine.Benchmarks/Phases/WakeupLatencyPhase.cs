using System.Diagnostics;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Benchmarks.Phases;

/// <summary>
/// Phase 5: cross-node wakeup. Node B awaits "approved" with polling disabled, so only a NOTIFY can wake it; node A
/// signals. Measured from the start of A's SignalAsync to B's AwaitAsync returning. Both workers are off so no
/// execution traffic shares the path. The project's aim is p50 ≤ 5 ms.
/// </summary>
public sealed class WakeupLatencyPhase : IBenchPhase
{
    private static readonly TimeSpan SampleTimeout = TimeSpan.FromSeconds(10);

    // B registers its interest, then reads the state once; the signal must come after that read, or B would return
    // from the read instead of from a wakeup. A local read takes well under a millisecond.
    private static readonly TimeSpan SettleAfterRegistration = TimeSpan.FromMilliseconds(5);

    private const double AimP50Ms = 5;

    public string Number => "5";

    public string Title => "Cross-node wakeup latency (two nodes, B polls never)";

    public async Task RunAsync(BenchContext context, CancellationToken ct)
    {
        var settings = context.Settings;
        var database = await context.DatabaseAsync("wakeup", ct);
        await using var a = await BenchNode.StartAsync(database, o => o.RunWorker = false, ct: ct);
        await using var b = await BenchNode.StartAsync(database, o =>
        {
            o.RunWorker = false;
            o.PollInterval = Timeout.InfiniteTimeSpan;
        }, ct: ct);

        var samples = await Sampler.CollectAsync(settings, token => SampleAsync(context, a, b, token), ct);
        var latency = LatencySummary.FromTicks([.. samples.Select(s => s.Woken)]);
        context.Report.Latency(Number, "Signal on A → AwaitAsync returns on B", latency,
            $"aim p50 ≤ {AimP50Ms} ms: {(latency.P50 <= AimP50Ms ? "met" : "NOT met")}");
        context.Report.Latency(Number, "  of which SignalAsync on A", LatencySummary.FromTicks([.. samples.Select(s => s.Signalled)]));
    }

    private static async Task<(long Woken, long Signalled)> SampleAsync(BenchContext context, BenchNode a, BenchNode b, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(SampleTimeout);
        var id = (await a.Runtime.StartAsync(context.NextKey("wakeup"), BenchRequests.Request, timeout.Token)).Workflow.Id;
        var waiting = b.Hub.WaitedWorkflows;
        var woken = Task.Run(async () =>
        {
            await b.Runtime.AwaitAsync(id, s => s.State.Status == ApprovalStatus.Approved, timeout.Token);
            return Stopwatch.GetTimestamp();
        }, timeout.Token);
        while (b.Hub.WaitedWorkflows == waiting && !woken.IsCompleted)
        {
            await Task.Yield();
        }

        await Task.Delay(SettleAfterRegistration, timeout.Token);
        var before = Stopwatch.GetTimestamp();
        var outcome = await a.Runtime.SignalAsync(id, BenchRequests.Approve(context.NextKey("approve")), timeout.Token);
        var signalled = Stopwatch.GetTimestamp();
        BenchRequests.EnsureAccepted(outcome, id);
        try
        {
            return (await woken - before, signalled - before);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"Node B was not woken within {SampleTimeout.TotalSeconds:0} s for workflow {id}: a NOTIFY was lost or never sent.");
        }
    }
}
