using System.Diagnostics;
using System.Globalization;
using System.Text;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Benchmarks;

/// <summary>The benchmark program, run as the child process it is from the README, for the smoke tests of its modes.</summary>
internal static class BenchmarkProgram
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);

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

    /// <summary>Runs the benchmark program with <paramref name="arguments"/> (the mode first) to its end, bounded.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string[] arguments)
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
            Assert.Fail($"The benchmark ({arguments[0]}) did not finish within {RunTimeout.TotalSeconds:0} s.\n{Text(stdout)}\n{Text(stderr)}");
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

    public static double Number(string value) => double.Parse(value, NumberStyles.Number, CultureInfo.InvariantCulture);
}
