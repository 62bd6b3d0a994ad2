namespace ApprovalEngine.Benchmarks.Phases;

/// <summary>
/// Phase 1: workflows started per second (unique business keys), on a node whose worker is off so only starts are
/// measured. The started workflows stay pending for phase 2.
/// </summary>
public sealed class StartPhase : IBenchPhase
{
    public string Number => "1";

    public string Title => "Workflows started per second (worker off)";

    public async Task RunAsync(BenchContext context, CancellationToken ct)
    {
        var settings = context.Settings;
        await using var node = await BenchNode.StartAsync(await context.DatabaseAsync("api", ct), o => o.RunWorker = false, ct: ct);
        var start = Operation(context, node);

        await Load.RunAsync(1, settings.Warmup, start, ct);
        var one = await Load.RunAsync(1, settings.PhaseDuration, start, ct);
        context.Report.Throughput(Number, "Starts/s, 1 client", one.PerSecond, "starts/s", 1, one.Latency.ToString());

        await Load.RunAsync(settings.Concurrency, settings.Warmup, start, ct);
        var many = await Load.RunAsync(settings.Concurrency, settings.PhaseDuration, start, ct);
        context.Report.Throughput(Number, $"Starts/s, {settings.Concurrency} clients", many.PerSecond, "starts/s", settings.Concurrency, many.Latency.ToString());
        context.StartRates = (one.PerSecond, many.PerSecond);
    }

    /// <summary>Start one workflow and keep it for the decision phase.</summary>
    public static Func<int, CancellationToken, Task<bool>> Operation(BenchContext context, BenchNode node) => async (_, ct) =>
    {
        var started = await node.Runtime.StartAsync(context.NextKey("start"), BenchRequests.Request, ct);
        if (!started.Created)
        {
            throw new InvalidOperationException($"Business key of workflow {started.Workflow.Id} was not unique.");
        }

        context.Pending.Enqueue(started.Workflow.Id);
        return true;
    };
}
