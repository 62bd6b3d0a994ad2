using System.Diagnostics;
using ApprovalEngine.Benchmarks.Phases;

namespace ApprovalEngine.Benchmarks;

/// <summary>
/// The runtime benchmark: every phase is bounded, figures are printed with their ratio to raw PostgreSQL measured in
/// the same run, and a markdown summary closes the run.
/// </summary>
public static class RuntimeBenchmark
{
    public const string Name = "runtime";

    public static async Task<int> RunAsync(BenchSettings settings, CancellationToken ct)
    {
        IBenchPhase[] phases =
        [
            new RawBaselinePhase(),
            new StartPhase(),
            new DecisionPhase(),
            new ExecuteLatencyPhase(),
            new FullCyclePhase(),
            new WakeupLatencyPhase(),
        ];

        await using var database = await BenchDatabase.OpenAsync(settings.ConnectionString, ct);
        var server = await database.DescribeAsync(ct);
        Console.WriteLine($"PostgreSQL {server.Version}, {database.Description}{(database.ClusterPid is { } pid ? $" (pid {pid})" : "")}: fsync={server.Fsync}, synchronous_commit={server.SynchronousCommit}");

        var report = new Report(settings);
        var context = new BenchContext(settings, database, report);
        foreach (var phase in phases)
        {
            Report.Heading(phase.Number, phase.Title);
            var started = Stopwatch.GetTimestamp();
            await phase.RunAsync(context, ct);
            Report.Note($"({Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s)");
        }

        Console.WriteLine();
        Console.WriteLine(report.Summary(server, database.Description));
        return 0;
    }
}
