using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using ApprovalEngine.Activities;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Benchmarks.Phases;

/// <summary>
/// Phase 3: from just before SignalAsync(approve) to the moment the tool invoker is called, on one node with its
/// worker on. Sequential samples, each on a quiet queue.
/// </summary>
public sealed class ExecuteLatencyPhase : IBenchPhase
{
    private static readonly TimeSpan SampleTimeout = TimeSpan.FromSeconds(10);
    private static readonly JsonElement Ok = JsonDocument.Parse("""{"ok":true}""").RootElement;

    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<long>> _invoked = new();

    public string Number => "3";

    public string Title => "Decision → execute-start latency (worker on, sequential)";

    public async Task RunAsync(BenchContext context, CancellationToken ct)
    {
        var database = await context.DatabaseAsync("execute", ct);
        await using var node = await BenchNode.StartAsync(database, invoke: InvokeAsync, ct: ct);
        await using var probe = new QueueProbe(database);

        var samples = await Sampler.CollectAsync(context.Settings, token => SampleAsync(context, node, probe, token), ct);
        context.Report.Latency(Number, "Decision → execute start", LatencySummary.FromTicks([.. samples.Select(s => s.ToExecute)]));
        context.Report.Latency(Number, "  of which SignalAsync(approve)", LatencySummary.FromTicks([.. samples.Select(s => s.ToSignalled)]));
    }

    private async Task<(long ToExecute, long ToSignalled)> SampleAsync(BenchContext context, BenchNode node, QueueProbe probe, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(SampleTimeout);
        var id = (await node.Runtime.StartAsync(context.NextKey("execute"), BenchRequests.Request, timeout.Token)).Workflow.Id;
        await probe.WaitUntilIdleAsync(timeout.Token);

        var invoked = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _invoked[id] = invoked;
        var before = Stopwatch.GetTimestamp();
        var outcome = await node.Runtime.SignalAsync(id, BenchRequests.Approve(context.NextKey("approve")), timeout.Token);
        var signalled = Stopwatch.GetTimestamp();
        BenchRequests.EnsureAccepted(outcome, id);
        var at = await invoked.Task.WaitAsync(timeout.Token);

        var final = await node.Runtime.AwaitAsync(id, cancellationToken: timeout.Token);
        if (final.State.Status != ApprovalStatus.Completed)
        {
            throw new InvalidOperationException($"Workflow {id} ended {final.State.Status}, not completed: {final.State.Error}");
        }

        await probe.WaitUntilIdleAsync(timeout.Token);
        return (at - before, signalled - before);
    }

    private Task<ActivityResult> InvokeAsync(ToolInvocation invocation, CancellationToken ct)
    {
        var now = Stopwatch.GetTimestamp();
        if (_invoked.TryRemove(invocation.ApprovalId, out var waiter))
        {
            waiter.TrySetResult(now);
        }

        return Task.FromResult(ActivityResult.Success(Ok));
    }
}
