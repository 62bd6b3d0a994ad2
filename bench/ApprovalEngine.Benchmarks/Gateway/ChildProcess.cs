using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>
/// A server this benchmark starts (the gateway, the upstream). Its output goes to a log file, not through this
/// process: reading a chatty server's output would cost the measuring process CPU and show up as client time.
/// Readiness is a line in that file; the stop is by pid. A watchdog shell holds a pipe from this process: should
/// the benchmark die without stopping its children (kill -9), the pipe closes and the watchdog stops the child by pid.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int TailLines = 40;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ReadyPoll = TimeSpan.FromMilliseconds(50);

    // $1 is the log file; the rest is the command, exec'd so that it keeps this shell's pid.
    private const string LaunchScript = """
        log=$1
        shift
        exec "$@" >"$log" 2>&1
        """;

    // $1 is the child's pid. Runs only if the benchmark goes away first: a normal stop kills the watchdog beforehand.
    private const string WatchdogScript = """
        exec >/dev/null 2>&1
        read -r line
        kill -TERM "$1" || exit 0
        i=0
        while [ "$i" -lt 50 ] && kill -0 "$1"; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$1"
        """;

    private readonly Process _process;
    private readonly Process _watchdog;
    private int _stopped;

    private ChildProcess(string name, Process process, Process watchdog, string logPath)
    {
        Name = name;
        _process = process;
        _watchdog = watchdog;
        LogPath = logPath;
        Pid = process.Id;
    }

    public string Name { get; }

    public int Pid { get; }

    /// <summary>Where the child's standard output and error go.</summary>
    public string LogPath { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>User + system CPU time so far (read from /proc on each call).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public static ChildProcess Start(
        string name, string program, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string> environment, string logPath)
    {
        var info = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            // Standard input stays a pipe from us: servers that watch it exit with the benchmark.
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in (string[])["-c", LaunchScript, "bench-child", logPath, program, .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {name} ({program}).");
        try
        {
            return new ChildProcess(name, process, StartWatchdog(process.Id), logPath);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>The first line of the log that <paramref name="isReadyLine"/> accepts; fails if the child exits first or <paramref name="timeout"/> passes.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> isReadyLine, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (ReadLines().FirstOrDefault(isReadyLine) is { } line)
            {
                return line;
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited early (code {_process.ExitCode}).\n{Tail()}");
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{Name} (pid {Pid}) was not ready within {timeout.TotalSeconds:0} s.\n{Tail()}");
            }

            await Task.Delay(ReadyPoll, ct);
        }
    }

    /// <summary>The last lines the child printed, for an error message.</summary>
    public string Tail()
    {
        var lines = ReadLines();
        return lines.Count == 0 ? $"({Name} printed nothing)" : $"Last output of {Name} ({LogPath}):\n  " + string.Join("\n  ", lines.TakeLast(TailLines));
    }

    /// <summary>SIGTERM (and standard input closed), then SIGKILL of its tree if it is still running after 5 s. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        // The watchdog first: it must never act on a pid this process has already reaped.
        _watchdog.Kill();
        await _watchdog.WaitForExitAsync();
        _watchdog.Dispose();
        if (!_process.HasExited)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The pipe is already broken: the child is on its way out.
            }

            _ = Kill(Pid, SigTerm);
            using var grace = new CancellationTokenSource(StopGrace);
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
        }

        _process.Dispose();
    }

    private List<string> ReadLines()
    {
        try
        {
            // Shared: the child still has the file open for writing.
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            var lines = new List<string>();
            while (reader.ReadLine() is { } line)
            {
                lines.Add(line);
            }

            return lines;
        }
        catch (FileNotFoundException)
        {
            return [];
        }
    }

    private static Process StartWatchdog(int pid)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = true };
        foreach (var argument in (string[])["-c", WatchdogScript, "bench-child-watchdog", pid.ToString(CultureInfo.InvariantCulture)])
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("Could not start the child watchdog (/bin/sh).");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}
