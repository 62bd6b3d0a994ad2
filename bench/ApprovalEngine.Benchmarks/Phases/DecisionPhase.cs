namespace ApprovalEngine.Benchmarks.Phases;

/// <summary>
/// Phase 2: approve signals per second on pending workflows (worker off: the decision transaction only, not the
/// execution it schedules). Uses phase 1's pending workflows, topped up beforehand (unmeasured) when too few.
/// </summary>
public sealed class DecisionPhase : IBenchPhase
{
    // Decisions cost about what starts cost; 50% headroom keeps a segment from running dry.
    private const double SupplyHeadroom = 1.5;

    public string Number => "2";

    public string Title => "Decisions (approve signals) per second (worker off)";

    public async Task RunAsync(BenchContext context, CancellationToken ct)
    {
        var settings = context.Settings;
        await using var node = await BenchNode.StartAsync(await context.DatabaseAsync("api", ct), o => o.RunWorker = false, ct: ct);
        var rates = context.StartRates ?? (1000, 1000);
        var segment = settings.Warmup + settings.PhaseDuration;
        async Task<bool> Approve(int client, CancellationToken token)
        {
            if (!context.Pending.TryDequeue(out var id))
            {
                return false;
            }

            BenchRequests.EnsureAccepted(await node.Runtime.SignalAsync(id, BenchRequests.Approve(context.NextKey("approve")), token), id);
            return true;
        }

        await SupplyAsync(context, node, (int)(rates.One * segment.TotalSeconds * SupplyHeadroom), ct);
        await Load.RunAsync(1, settings.Warmup, Approve, ct);
        var one = await Load.RunAsync(1, settings.PhaseDuration, Approve, ct);
        context.Report.Throughput(Number, "Decisions/s, 1 client", one.PerSecond, "decisions/s", 1, Describe(one));

        await SupplyAsync(context, node, (int)(rates.Many * segment.TotalSeconds * SupplyHeadroom), ct);
        await Load.RunAsync(settings.Concurrency, settings.Warmup, Approve, ct);
        var many = await Load.RunAsync(settings.Concurrency, settings.PhaseDuration, Approve, ct);
        context.Report.Throughput(Number, $"Decisions/s, {settings.Concurrency} clients", many.PerSecond, "decisions/s", settings.Concurrency,
            Describe(many));
    }

    private static string Describe(LoadResult result) =>
        result.RanDry ? $"{result.Latency}; ran out of pending workflows early" : result.Latency.ToString();

    /// <summary>Start workflows (unmeasured, concurrently) until <paramref name="target"/> are pending.</summary>
    private static async Task SupplyAsync(BenchContext context, BenchNode node, int target, CancellationToken ct)
    {
        var missing = target - context.Pending.Count;
        if (missing <= 0)
        {
            return;
        }

        Report.Note($"starting {missing:N0} more pending workflows (unmeasured)");
        var start = StartPhase.Operation(context, node);
        var left = missing;
        await Task.WhenAll(Enumerable.Range(0, context.Settings.Concurrency).Select(async client =>
        {
            while (Interlocked.Decrement(ref left) >= 0)
            {
                await start(client, ct);
            }
        }));
    }
}
