using System.Diagnostics;
using System.Text;

namespace ApprovalEngine.Testing;

/// <summary>
/// A running <c>fixture-server.mjs</c> (see <see cref="NodePeers.StartFixtureServerAsync"/>). Disposing stops it by
/// pid; it also exits by itself when this process goes away, because its standard input (a pipe from here) closes.
/// </summary>
public sealed class FixtureServer : IAsyncDisposable
{
    private const string ReadyPrefix = "LISTENING ";
    private const int MaxLogChars = 64 * 1024;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    private readonly Process process;
    private readonly StringBuilder log;

    private FixtureServer(Process process, StringBuilder log, Uri url)
    {
        this.process = process;
        this.log = log;
        Url = url;
    }

    /// <summary>The stateful endpoint, <c>http://127.0.0.1:PORT/mcp</c>.</summary>
    public Uri Url { get; }

    /// <summary>The stateless endpoint of the same server (no sessions, POST only; no sampling or elicitation).</summary>
    public Uri StatelessUrl => new(Url, "/stateless/mcp");

    public int ProcessId => process.Id;

    /// <summary>What the server wrote to stdout (after the ready line) and stderr so far, for assertion messages.</summary>
    public string Log => Snapshot(log);

    internal static async Task<FixtureServer> StartAsync(ProcessStartInfo info, CancellationToken cancellationToken)
    {
        var log = new StringBuilder();
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            if (e.Data.StartsWith(ReadyPrefix, StringComparison.Ordinal) && ready.TrySetResult(e.Data[ReadyPrefix.Length..].Trim()))
            {
                return;
            }

            Append(log, e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Append(log, e.Data);
            }
        };
        process.Exited += (_, _) => ready.TrySetException(
            new InvalidOperationException($"{PeerProcess.Describe(info)} exited before it was ready. Output:\n{Snapshot(log)}"));

        if (!process.Start())
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start {PeerProcess.Describe(info)}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var url = await ready.Task.WaitAsync(StartTimeout, cancellationToken);
            return new FixtureServer(process, log, new Uri(url));
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
        {
            await PeerProcess.StopAsync(process, StopGrace);
            process.Dispose();
            if (exception is OperationCanceledException)
            {
                throw;
            }

            throw new TimeoutException($"{PeerProcess.Describe(info)} did not report {ReadyPrefix.Trim()} within {StartTimeout.TotalSeconds} s. Output:\n{Snapshot(log)}", exception);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await PeerProcess.StopAsync(process, StopGrace);
        process.Dispose();
    }

    public override string ToString() => $"fixture server {Url} (pid {ProcessId})";

    private static void Append(StringBuilder log, string line)
    {
        lock (log)
        {
            if (log.Length < MaxLogChars)
            {
                log.AppendLine(line);
            }
        }
    }

    private static string Snapshot(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }
}
