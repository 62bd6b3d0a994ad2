using System.Diagnostics;
using ApprovalEngine.Cli;

namespace ApprovalEngine.Gateway.Tests.Cli;

/// <summary>What one run of <c>approvals</c> produced.</summary>
public sealed record CliResult(int ExitCode, string Out, string Error)
{
    /// <summary>Wall-clock time of the run (a child process: including the runtime's start).</summary>
    public TimeSpan Elapsed { get; init; }

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Out}\n--- stderr ---\n{Error}";
}

/// <summary>
/// A person at a terminal: their own config directory (XDG_CONFIG_HOME, so their own credentials file) and the CLI,
/// run either as a real child process (<c>dotnet approvals.dll ...</c>) or in-process through the same entry point.
/// Every run is checked for leaked secrets.
/// </summary>
public sealed class CliUser : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);

    private readonly IReadOnlyList<string> secrets;

    public CliUser(CliGateway gateway)
    {
        secrets = gateway.Secrets;
        ConfigHome = Path.Combine(Path.GetTempPath(), "ae-cli-home-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(ConfigHome);
    }

    public string ConfigHome { get; }

    public string CredentialsPath => Path.Combine(ConfigHome, "approval-engine", "credentials.json");

    /// <summary>Extra environment variables for the runs (APPROVALS_URL, APPROVALS_TOKEN).</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>Runs <c>dotnet approvals.dll args</c> as a child process and waits (bounded) for it to exit.</summary>
    public async Task<CliResult> RunAsync(string? standardInput, params string[] args)
    {
        var info = new ProcessStartInfo(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = ConfigHome,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "approvals.dll"));
        foreach (var argument in args)
        {
            info.ArgumentList.Add(argument);
        }

        // The test runner's own settings must not leak in: this person has only what the test gives them.
        info.Environment.Remove("APPROVALS_URL");
        info.Environment.Remove("APPROVALS_TOKEN");
        info.Environment["XDG_CONFIG_HOME"] = ConfigHome;
        info.Environment["HOME"] = ConfigHome;
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in Environment)
        {
            info.Environment[name] = value;
        }

        var started = Stopwatch.GetTimestamp();
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the CLI.");
        using var timeout = new CancellationTokenSource(ProcessTimeout);
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            if (standardInput is not null)
            {
                await process.StandardInput.WriteAsync(standardInput);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(timeout.Token);
            return Checked(new CliResult(process.ExitCode, await output, await error) { Elapsed = Stopwatch.GetElapsedTime(started) });
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"approvals {string.Join(' ', args)} did not exit within {ProcessTimeout.TotalSeconds:0} s.");
        }
    }

    /// <summary>Runs the CLI in this process through <see cref="CliApp.RunAsync"/>, with this person's environment.</summary>
    public async Task<CliResult> InvokeAsync(string? standardInput, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var host = new CliHost
        {
            Out = output,
            Error = error,
            In = new StringReader(standardInput ?? string.Empty),
            Environment = name => Environment.TryGetValue(name, out var value) ? value
                : name is "XDG_CONFIG_HOME" or "HOME" ? ConfigHome
                : null,
        };
        var exitCode = await CliApp.RunAsync(args, host);
        return Checked(new CliResult(exitCode, output.ToString(), error.ToString()));
    }

    /// <summary>Logs in in-process with <paramref name="token"/> on standard input; fails the test if that fails.</summary>
    public async Task LoginAsync(string url, string token)
    {
        var result = await InvokeAsync(token, "login", "--url", url, "--token-stdin");
        Assert.True(result.ExitCode == ExitCodes.Ok, result.ToString());
    }

    public void Dispose() => Directory.Delete(ConfigHome, recursive: true);

    private CliResult Checked(CliResult result)
    {
        foreach (var secret in secrets)
        {
            Assert.False(result.Out.Contains(secret, StringComparison.Ordinal) || result.Error.Contains(secret, StringComparison.Ordinal),
                $"A secret appeared in the CLI's output:\n{result}");
        }

        return result;
    }
}
