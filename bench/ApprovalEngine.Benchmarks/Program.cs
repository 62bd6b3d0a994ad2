using System.Diagnostics;
using ApprovalEngine.Benchmarks;
using ApprovalEngine.Benchmarks.Phases;

// Runtime benchmarks: every phase is bounded, figures are printed with their ratio to raw PostgreSQL measured in the
// same run, and a markdown summary closes the run. Usage: runtime [--seconds N] [--concurrency N] [--samples N] [--connection CS]
var (settings, error) = BenchSettings.Parse(args);
if (settings is null)
{
    await Console.Error.WriteLineAsync($"{error}\n\n{BenchSettings.Usage}");
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

IBenchPhase[] phases =
[
    new RawBaselinePhase(),
    new StartPhase(),
    new DecisionPhase(),
    new ExecuteLatencyPhase(),
    new FullCyclePhase(),
    new WakeupLatencyPhase(),
];

await using var database = await BenchDatabase.OpenAsync(settings.ConnectionString, cancel.Token);
var server = await database.DescribeAsync(cancel.Token);
Console.WriteLine($"PostgreSQL {server.Version}, {database.Description}{(database.ClusterPid is { } pid ? $" (pid {pid})" : "")}: fsync={server.Fsync}, synchronous_commit={server.SynchronousCommit}");

var report = new Report(settings);
var context = new BenchContext(settings, database, report);
try
{
    foreach (var phase in phases)
    {
        Report.Heading(phase.Number, phase.Title);
        var started = Stopwatch.GetTimestamp();
        await phase.RunAsync(context, cancel.Token);
        Report.Note($"({Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s)");
    }
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("Cancelled.");
    return 130;
}

Console.WriteLine();
Console.WriteLine(report.Summary(server, database.Description));
return 0;
