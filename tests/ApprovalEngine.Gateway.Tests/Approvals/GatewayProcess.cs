using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Approvals;

/// <summary>
/// The gateway's real entry point in a process of its own (<c>dotnet ApprovalEngine.Gateway.dll --config FILE</c>) on a
/// free loopback port, over the given database: for tests that kill a node and start another on the same database.
/// Ready once <c>/readyz</c> answers 200 (database reachable, wakeup listener connected). Standard output and error
/// are kept (the last lines) for failure messages and written to the test's output when the process is disposed.
/// Only ever this process's own tree is signalled, by pid; a test host that exits first kills what is still running.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int MaxLines = 4000;
    private const int StartAttempts = 3;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);
    private static readonly ConcurrentDictionary<int, Process> Running = new();

    private readonly Process process;
    private readonly Queue<string> lines = new();
    private readonly ITestOutputHelper? output;
    private readonly long startedAt = Stopwatch.GetTimestamp();
    private int dropped;
    private int disposed;
    private string? ended;

    static GatewayProcess()
    {
        // The safety net for a test run that ends without disposing (a crash, a hang killed by the runner).
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var running in Running.Values)
            {
                try
                {
                    running.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // Already gone.
                }
            }
        };
    }

    private GatewayProcess(string name, Process process, string baseUrl, ITestOutputHelper? output)
    {
        Name = name;
        this.process = process;
        BaseUrl = baseUrl;
        this.output = output;
        Pid = process.Id;
    }

    /// <summary>A label for messages, e.g. "A".</summary>
    public string Name { get; }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string BaseUrl { get; }

    public int Pid { get; }

    public bool HasExited => process.HasExited;

    /// <summary>True once <see cref="Kill"/> ran.</summary>
    public bool Killed { get; private set; }

    /// <summary>The process's standard output and error so far (the last <see cref="MaxLines"/> lines).</summary>
    public string Output
    {
        get
        {
            lock (lines)
            {
                var text = string.Join('\n', lines);
                return dropped == 0 ? text : $"({dropped} earlier lines dropped)\n{text}";
            }
        }
    }

    public string McpUrl(string bundle) => $"{BaseUrl}/mcp/{bundle}";

    public HttpClient CreateHttpClient() => new() { BaseAddress = new Uri(BaseUrl + "/"), Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// Starts the gateway with <paramref name="configPath"/> over <paramref name="connectionString"/> and waits until it is
    /// ready. <paramref name="settings"/> are further configuration keys (<c>ApprovalEngine:Runtime:LeaseDuration</c>...),
    /// passed as environment variables. The working directory is the configuration file's.
    /// </summary>
    /// <exception cref="InvalidOperationException">The gateway exited before it was ready; the message has its output.</exception>
    /// <exception cref="TimeoutException">It was not ready within 30 s (it was killed); the message has its output.</exception>
    public static async Task<GatewayProcess> StartAsync(
        string name,
        string configPath,
        string connectionString,
        IReadOnlyDictionary<string, string>? settings = null,
        ITestOutputHelper? output = null,
        CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var gateway = Launch(name, configPath, connectionString, settings, output);
            try
            {
                await gateway.WaitUntilReadyAsync(cancellationToken);
                return gateway;
            }
            catch (InvalidOperationException) when (attempt < StartAttempts && gateway.Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                // The free port was taken between our probe and the gateway's bind: try another.
                await gateway.DisposeAsync();
            }
            catch
            {
                await gateway.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>SIGKILL of the gateway and its children (its stdio upstreams), like a machine losing power; waits until it is gone.</summary>
    public void Kill()
    {
        Killed = true;
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        if (!process.WaitForExit(ExitWait))
        {
            throw new TimeoutException($"{this} did not exit within {ExitWait.TotalSeconds:0} s of SIGKILL.");
        }

        Append($"---- {Name}: killed (SIGKILL) at {Elapsed()} ----");
    }

    /// <summary>SIGTERM, as an orchestrator stops a node; waits until it exits (at most <paramref name="wait"/>) and returns its exit code.</summary>
    /// <exception cref="TimeoutException">It still runs after <paramref name="wait"/>.</exception>
    public async Task<int> TerminateAsync(TimeSpan wait)
    {
        Append($"---- {Name}: SIGTERM at {Elapsed()} ----");
        if (Signal(Pid, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill({Pid}, SIGTERM) failed for {this}.");
        }

        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{this} still runs {wait.TotalSeconds:0} s after SIGTERM.\n{Describe()}");
        }

        return process.ExitCode;
    }

    /// <summary>SIGTERM, then SIGKILL of its tree if it still runs after 5 s; then its output goes to the test's output. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        if (!process.HasExited && !OperatingSystem.IsWindows())
        {
            _ = Signal(Pid, SigTerm);
            using var grace = new CancellationTokenSource(StopGrace);
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                // Still running: below.
            }
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        // Without a timeout this also waits for the output to be read to its end.
        using (var drained = new CancellationTokenSource(ExitWait))
        {
            try
            {
                await process.WaitForExitAsync(drained.Token);
            }
            catch (OperationCanceledException)
            {
                // A grandchild that inherited the pipes may hold them open; the output so far is enough.
            }
        }

        Running.TryRemove(Pid, out _);
        ended = Killed ? "killed" : process.HasExited ? $"exited with {process.ExitCode}" : "still running";
        WriteToTestOutput();
        process.Dispose();
    }

    public override string ToString()
    {
        var state = ended ?? (Killed ? "killed" : process.HasExited ? $"exited with {process.ExitCode}" : null);
        return $"gateway {Name} (pid {Pid}, {BaseUrl}{(state is null ? "" : ", " + state)})";
    }

    /// <summary>The process and its last output lines, for a failure message.</summary>
    public string Describe(int lastLines = 60)
    {
        string[] tail;
        lock (lines)
        {
            tail = [.. lines.TakeLast(lastLines)];
        }

        return $"{this}, last output:\n  {string.Join("\n  ", tail)}";
    }

    private static GatewayProcess Launch(string name, string configPath, string connectionString, IReadOnlyDictionary<string, string>? settings, ITestOutputHelper? output)
    {
        var baseUrl = $"http://127.0.0.1:{FreePort()}";

        // dotnet test says which host runs it; PATH is the fallback when the tests run some other way.
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(configPath))!,
        };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "ApprovalEngine.Gateway.dll"), "--config", configPath, "--urls", baseUrl })
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["ConnectionStrings__ApprovalEngine"] = connectionString;
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = new Process { StartInfo = info };
        var gateway = new GatewayProcess(name, Start(process), baseUrl, output);
        process.OutputDataReceived += (_, e) => gateway.Append(e.Data);
        process.ErrorDataReceived += (_, e) => gateway.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return gateway;
    }

    private static Process Start(Process process)
    {
        if (!process.Start())
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start {process.StartInfo.FileName}.");
        }

        Running[process.Id] = process;
        return process;
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(5) };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(ReadyTimeout);
        try
        {
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"The gateway exited during start.\n{Describe()}");
                }

                try
                {
                    using var response = await http.GetAsync(new Uri("/readyz", UriKind.Relative), deadline.Token);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        Append($"---- {Name}: ready after {Elapsed()} ----");
                        return;
                    }
                }
                catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !deadline.IsCancellationRequested))
                {
                    // Not listening yet, or too busy starting to answer.
                }

                await Task.Delay(50, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The gateway was not ready within {ReadyTimeout.TotalSeconds:0} s.\n{Describe()}");
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (lines)
        {
            lines.Enqueue(line);
            if (lines.Count > MaxLines)
            {
                lines.Dequeue();
                dropped++;
            }
        }
    }

    private void WriteToTestOutput()
    {
        if (output is null)
        {
            return;
        }

        var text = new StringBuilder().Append("==== ").Append(this).AppendLine(" ====").Append(Output).ToString();
        try
        {
            output.WriteLine(text);
        }
        catch (InvalidOperationException)
        {
            // The test already ended (a fixture disposed late): its output is closed.
        }
    }

    private string Elapsed() => $"{Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds:0} ms";

    // Free when asked; a process could take it before the gateway binds, which StartAsync retries.
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Signal(int pid, int signal);
}
