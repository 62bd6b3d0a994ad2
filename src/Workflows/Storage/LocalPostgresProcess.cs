using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ApprovalEngine.Workflows.Storage;

/// <summary>Child-process plumbing for <see cref="LocalPostgres"/>: running as the postgres user, signals, output.</summary>
internal static class LocalPostgresProcess
{
    internal const string ServiceUser = "postgres";

    private const int SigInt = 2;

    // Runs beside the server holding the read end of a pipe that only this process writes to. If this
    // process dies without stopping the server (kill -9, a crash, a test host killed while its exit
    // handlers run), the pipe reaches end-of-file and the watchdog stops the server and deletes a
    // temporary data directory itself. A zombie counts as gone: the adoptive init may reap it late.
    private const string WatchdogScript = """
        exec >/dev/null 2>&1
        read -r line
        alive() { kill -0 "$1" && ! { [ -r "/proc/$1/stat" ] && grep -q ') Z ' "/proc/$1/stat"; }; }
        kill -INT "$1"
        i=0
        while [ "$i" -lt 100 ] && alive "$1"; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$1"
        if [ -n "$2" ]; then rm -rf -- "$2"; fi
        """;

    /// <summary>initdb and postgres refuse to run as root, so a root process runs them as the postgres user.</summary>
    internal static bool RunAsServiceUser => !OperatingSystem.IsWindows() && Environment.IsPrivilegedProcess;

    /// <summary>
    /// Starts <paramref name="program"/>, through setpriv when root. setpriv execs the program, so the pid
    /// of the started process is the program's own pid and signals reach it directly.
    /// </summary>
    internal static ProcessStartInfo StartInfo(string program, IEnumerable<string> arguments, string workingDirectory)
    {
        var info = Redirected(RunAsServiceUser ? FindSetpriv() : program);
        info.WorkingDirectory = workingDirectory;
        if (RunAsServiceUser)
        {
            foreach (var argument in (string[])[$"--reuid={ServiceUser}", $"--regid={ServiceUser}", "--init-groups", "--", program])
            {
                info.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    internal static ProcessStartInfo Redirected(string program) => new(program)
    {
        UseShellExecute = false,
        RedirectStandardInput = true,
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };

    /// <summary>Runs a short-lived program to completion and returns its exit code and combined output.</summary>
    internal static async Task<(int ExitCode, string Output)> RunAsync(ProcessStartInfo info, CancellationToken ct)
    {
        using var process = Process.Start(info)
            ?? throw new InvalidOperationException($"Could not start {info.FileName}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var output = new StringBuilder().Append(await stdout).Append(await stderr).ToString().Trim();
        return (process.ExitCode, output);
    }

    /// <summary>
    /// Starts the watchdog for <paramref name="serverPid"/>. Stop it (kill) before or after stopping the server
    /// yourself; closing its standard input instead tells it that this process is gone.
    /// </summary>
    internal static Process StartWatchdog(int serverPid, string? temporaryDataDirectory)
    {
        var info = Redirected("/bin/sh");
        foreach (var argument in (string[])["-c", WatchdogScript, "local-postgres-watchdog", serverPid.ToString(CultureInfo.InvariantCulture), temporaryDataDirectory ?? ""])
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("Could not start the PostgreSQL watchdog (/bin/sh).");
    }

    /// <summary>SIGINT is PostgreSQL's "fast shutdown": roll back sessions, checkpoint, exit.</summary>
    internal static void Interrupt(int pid) => _ = Kill(pid, SigInt);

    private static string FindSetpriv() =>
        LocalPostgresBinaries.FindOnPath("setpriv", Environment.GetEnvironmentVariable("PATH"))
        ?? (File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : null)
        ?? throw new InvalidOperationException(
            "This process runs as root, and PostgreSQL must run as the 'postgres' user, which needs `setpriv` " +
            "(Debian: `apt-get install util-linux`). Alternatively run as a non-root user.");

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}
