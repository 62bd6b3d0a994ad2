using System.Text.RegularExpressions;
using ApprovalEngine.Testing;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Benchmarks;

/// <summary>
/// The load benchmark's short form (<c>load --duration 3 --sessions 50</c>) run as the program it is, on the test
/// cluster: it starts the echo upstream and a gateway process, drives both paths, approves the gated calls and prints
/// its summary. Proves the mode works end to end; its figures mean nothing at this size and are not checked.
/// </summary>
public sealed partial class LoadBenchmarkSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Load_ShortRun_BothPathsAnswerEveryCallTheGatedOnesAreApprovedAndTheSummaryIsPrinted()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("bench_load", migrate: false);
        var (exitCode, stdout, stderr) = await BenchmarkProgram.RunAsync(
            ["load", "--duration", "3", "--warmup", "1", "--sessions", "50", "--gated-share", "0.2", "--connection", connectionString]);
        output.WriteLine(stdout);
        output.WriteLine(stderr);

        var throughput = Throughput().Match(stdout);
        var approver = Approved().Match(stdout);
        Assert.Equal(0, exitCode);
        Assert.Contains("## Load benchmark", stdout, StringComparison.Ordinal);
        Assert.True(throughput.Success, "no throughput row");
        Assert.True(BenchmarkProgram.Number(throughput.Groups["direct"].Value) > 0 && BenchmarkProgram.Number(throughput.Groups["gateway"].Value) > 0 && BenchmarkProgram.Number(throughput.Groups["gated"].Value) > 0, throughput.Value);
        Assert.True(approver.Success && BenchmarkProgram.Number(approver.Groups["approved"].Value) > 0, "no approval was made");
        Assert.Contains("| Errors in the window (outside it) | none (0) | none (0) |", stdout, StringComparison.Ordinal);
        Assert.Contains("Approvals not final at the end: 0.", stdout, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\| Throughput \| (?<direct>[\d,]+) calls/s \| (?<gateway>[\d,]+) calls/s \([\d,]+ allowed, (?<gated>[\d,]+) gated")]
    private static partial Regex Throughput();

    [GeneratedRegex(@"Approver: (?<approved>[\d,]+) approved")]
    private static partial Regex Approved();
}
