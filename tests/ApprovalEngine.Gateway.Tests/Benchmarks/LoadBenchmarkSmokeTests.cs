using System.Diagnostics;
using System.Globalization;
using System.Text;
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
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Load_ShortRun_BothPathsAnswerEveryCallTheGatedOnesAreApprovedAndTheSummaryIsPrinted()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("bench_load", migrate: false);
        var (exitCode, stdout, stderr) = await RunAsync(
            ["load", "--duration", "3", "--warmup", "1", "--sessions", "50", "--gated-share", "0.2", "--connection", connectionString]);
        output.WriteLine(stdout);
        output.WriteLine(stderr);

        var throughput = Throughput().Match(stdout);
        var approver = Approved().Match(stdout);
        Assert.Equal(0, exitCode);
        Assert.Contains("## Load benchmark", stdout, StringComparison.Ordinal);
        Assert.True(throughput.Success, "no throughput row");
        Assert.True(Number(throughput.Groups["direct"].Value) > 0 && Number(throughput.Groups["gateway"].Value) > 0 && Number(throughput.Groups["gated"].Value) > 0, throughput.Value);
        Assert.True(approver.Success && Number(approver.Groups["approved"].Value) > 0, "no approval was made");
        Assert.Contains("| Errors in the window (outside it) | none (0) | none (0) |", stdout, StringComparison.Ordinal);
        Assert.Contains("Approvals not final at the end: 0.", stdout, StringComparison.Ordinal);
    }

    /// <summary>The benchmark program built next to this test assembly's configuration (the test project builds it).</summary>
    private static string BenchmarkDll()
    {
        // .../tests/ApprovalEngine.Gateway.Tests/bin/<Configuration>/<TargetFramework>/
        var framework = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = framework.Parent!.Name;
        var path = Repository.PathOf("bench", "ApprovalEngine.Benchmarks", "bin", configuration, framework.Name, "ApprovalEngine.Benchmarks.dll");
        Assert.True(File.Exists(path), $"{path} is missing: build the solution (the test project references the benchmark project).");
        return path;
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string[] arguments)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var argument in (string[])[BenchmarkDll(), .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(RunTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Its children (gateway, upstream, their watchdogs) go with it.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Assert.Fail($"The load benchmark did not finish within {RunTimeout.TotalSeconds:0} s.\n{Text(stdout)}\n{Text(stderr)}");
        }

        return (process.ExitCode, Text(stdout), Text(stderr));
    }

    private static void Append(StringBuilder text, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (text)
        {
            text.AppendLine(line);
        }
    }

    private static string Text(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }

    private static double Number(string value) => double.Parse(value, NumberStyles.Number, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"\| Throughput \| (?<direct>[\d,]+) calls/s \| (?<gateway>[\d,]+) calls/s \([\d,]+ allowed, (?<gated>[\d,]+) gated")]
    private static partial Regex Throughput();

    [GeneratedRegex(@"Approver: (?<approved>[\d,]+) approved")]
    private static partial Regex Approved();
}
