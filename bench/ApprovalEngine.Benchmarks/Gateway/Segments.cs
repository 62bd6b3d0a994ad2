namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>One measured closed-loop run of one request kind on one target, with what it cost each process and the WAL.</summary>
public sealed record Segment(string Target, string Request, int Clients, LoadResult Load, CpuTimes Cpu, long WalBytes);

/// <summary>The segments of one target, request and concurrency (one per round), pooled: rates over the summed time, percentiles over all samples.</summary>
public sealed class Pooled(IReadOnlyList<Segment> segments)
{
    public IReadOnlyList<Segment> Segments => segments;

    public long Operations => segments.Sum(s => s.Load.Operations);

    public double PerSecond => Operations / segments.Sum(s => s.Load.Elapsed.TotalSeconds);

    public LatencySummary Latency { get; } = LatencySummary.FromTicks(segments.SelectMany(s => s.Load.Ticks).ToList());

    public CpuTimes Cpu => segments.Aggregate(CpuTimes.Zero, (sum, s) => sum + s.Cpu);

    public long WalBytes => segments.Sum(s => s.WalBytes);

    /// <summary>Microseconds of CPU per operation.</summary>
    public static double PerOperation(TimeSpan cpu, long operations) => operations == 0 ? double.NaN : cpu.TotalMicroseconds / operations;
}

/// <summary>Runs segments: warm-up (unmeasured), then the measured run between two readings of CPU time and WAL position.</summary>
public sealed class SegmentRunner(CpuMeter cpu, DatabaseProbe database)
{
    public async Task<Segment> RunAsync(
        McpTarget target, string request, Func<int, CancellationToken, Task<bool>> operation, int clients, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        await target.EnsureClientsAsync(clients, ct);
        await Load.RunAsync(clients, warmup, operation, ct);
        var cpuBefore = cpu.Read();
        var walBefore = await database.WalPositionAsync(ct);
        var load = await Load.RunAsync(clients, duration, operation, ct);
        var cpuAfter = cpu.Read();
        var walAfter = await database.WalPositionAsync(ct);
        return new Segment(target.Name, request, clients, load, cpuAfter - cpuBefore, walAfter - walBefore);
    }
}
