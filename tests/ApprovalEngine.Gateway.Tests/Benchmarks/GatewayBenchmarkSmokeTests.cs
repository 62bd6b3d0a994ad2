using System.Text.RegularExpressions;
using ApprovalEngine.Testing;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Benchmarks;

/// <summary>
/// The gateway benchmark's short form run as the program it is: it starts the echo upstream and a gateway process,
/// measures both paths, counts the audit rows and prints its summary. Proves the README's command works end to end;
/// its figures mean nothing at this size and are not checked.
/// </summary>
public sealed partial class GatewayBenchmarkSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Gateway_ShortRun_BothPathsAreMeasuredAndEveryCallThroughTheGatewayIsAudited()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("bench_gateway", migrate: false);

        var stdout = await RunAsync(["gateway", "--seconds", "1", "--rounds", "1", "--clients", "1,4", "--peak", "none", "--connection", connectionString]);

        AssertMeasuredAndAudited(stdout);
        Assert.Matches(@"\| 4 \| [\d.]+ ms \|", stdout);
    }

    [Fact]
    public async Task Gateway_SplitCpus_GatewayAndItsDatabaseRunOnCpusOfTheirOwn()
    {
        // Its own PostgreSQL (split pins the database's processes): never the tests' shared cluster.
        var stdout = await RunAsync(["gateway", "--cpus", "split", "--seconds", "1", "--rounds", "1", "--clients", "1", "--peak", "none"]);

        AssertMeasuredAndAudited(stdout);
        var check = Checked().Match(stdout);
        Assert.True(check.Success, "the benchmark did not read the processes' CPUs back");
        Assert.NotEqual(check.Groups["agents"].Value, check.Groups["gateway"].Value);
        Assert.True(BenchmarkProgram.Number(check.Groups["postgres"].Value) >= 1, check.Value);
    }

    private async Task<string> RunAsync(string[] arguments)
    {
        var (exitCode, stdout, stderr) = await BenchmarkProgram.RunAsync(arguments);
        output.WriteLine(stdout);
        output.WriteLine(stderr);
        Assert.Equal(0, exitCode);
        return stdout;
    }

    private static void AssertMeasuredAndAudited(string stdout)
    {
        Assert.Contains("## Gateway benchmark", stdout, StringComparison.Ordinal);
        var one = OneClient().Match(stdout);
        Assert.True(one.Success, "no row for 1 client");
        Assert.True(BenchmarkProgram.Number(one.Groups["direct"].Value) > 0 && BenchmarkProgram.Number(one.Groups["gateway"].Value) > 0, one.Value);

        var audit = Audit().Match(stdout);
        Assert.True(audit.Success, "no audit verdict");
        Assert.Equal(audit.Groups["calls"].Value, audit.Groups["rows"].Value);
        Assert.True(BenchmarkProgram.Number(audit.Groups["rows"].Value) > 0, audit.Value);
        Assert.Contains("Aim: at 1 client added p50", stdout, StringComparison.Ordinal);
    }

    // | Clients | Direct p50 | Direct p99 | Direct calls/s | Gateway p50 | Gateway p99 | Gateway calls/s | …
    [GeneratedRegex(@"^\| 1 \| [\d.]+ ms \| [\d.]+ ms \| (?<direct>[\d,]+) \| [\d.]+ ms \| [\d.]+ ms \| (?<gateway>[\d,]+) \|", RegexOptions.Multiline)]
    private static partial Regex OneClient();

    [GeneratedRegex(@"Audit: on: (?<rows>[\d,]+) rows in \S+ = (?<calls>[\d,]+) tools/call through the gateway")]
    private static partial Regex Audit();

    [GeneratedRegex(@"CPUs checked: clients and upstream on (?<agents>[\d-]+), gateway and (?<postgres>\d+) PostgreSQL processes on (?<gateway>[\d-]+)")]
    private static partial Regex Checked();
}
