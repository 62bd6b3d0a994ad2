using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>A connection's state as the catalog and callers see it; <see cref="Client"/> is set only when ready.</summary>
internal sealed record ConnectionStatus(UpstreamState State, string? LastError, McpClient? Client);

/// <summary>
/// One MCP session to an upstream, kept alive: it connects, and after a failed start, a crash or a lost connection it
/// connects again after a jittered exponential backoff (<see cref="RestartBackoff"/>). The base connection of an
/// upstream serves agents without credentials and feeds the catalog; each agent with credentials for the upstream
/// gets its own (identity mediation).
/// </summary>
internal sealed class UpstreamConnection : IAsyncDisposable
{
    private const string StoppedReason = "the upstream was stopped";

    // Closing ends an HTTP session with a DELETE, which a hung server might never answer; the transport's disposal
    // after it aborts whatever is still in flight.
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    private readonly ConnectionSetup setup;
    private readonly ClientCredentialsTokenSource? tokens;
    private readonly Func<McpClient, CancellationToken, Task> onConnected;
    private readonly Action<ConnectionStatus>? onStatusChanged;
    private readonly McpClientOptions options;
    private readonly UpstreamRelay relay;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Lock gate = new();
    private readonly CancellationTokenSource stopping = new();

    // One marker for every process this connection starts; it sweeps only while none of its processes should run.
    private readonly string processMarker = ProcessSweeper.NewMarker();
    private ConnectionStatus status = new(UpstreamState.Connecting, null, null);
    private TaskCompletionSource settled = NewSignal();
    private TaskCompletionSource<string>? broken;
    private McpClient? connected;
    private Task? loop;
    private int disposed;

    /// <param name="onConnected">Runs after the handshake and before the connection counts as ready (catalog, logging level); a failure counts as a failed attempt.</param>
    /// <param name="onStatusChanged">Called on each transition, in order, from one thread at a time.</param>
    /// <param name="onListChanged">Called on the upstream's list_changed notifications; null ignores them.</param>
    public UpstreamConnection(
        ConnectionSetup setup,
        ClientCredentialsTokenSource? tokens,
        Func<McpClient, CancellationToken, Task> onConnected,
        Action<ConnectionStatus>? onStatusChanged,
        Action? onListChanged,
        TimeProvider time,
        ILoggerFactory loggerFactory)
    {
        this.setup = setup;
        this.tokens = tokens;
        this.onConnected = onConnected;
        this.onStatusChanged = onStatusChanged;
        this.time = time;
        logger = loggerFactory.CreateLogger<UpstreamPool>();
        relay = new UpstreamRelay(setup.Upstream, Calls, logger);
        options = UpstreamClientFactory.CreateOptions(setup, relay, onListChanged);
    }

    public ConnectionSetup Setup => setup;

    public InFlightCalls Calls { get; } = new();

    public ConnectionStatus Status => Volatile.Read(ref status);

    /// <summary>The client between the handshake and the session's end, ready or not yet (catalog refreshes use it).</summary>
    public McpClient? ConnectedClient => Volatile.Read(ref connected);

    public void Start()
    {
        lock (gate)
        {
            // Never after DisposeAsync: nothing would stop the loop.
            if (disposed == 0 && loop is null)
            {
                loop = Task.Run(() => RunAsync(stopping.Token));
            }
        }
    }

    /// <summary>The ready client; waits while connecting, fails at once while the connection is down.</summary>
    /// <exception cref="UpstreamUnavailableException">The connection failed or was stopped.</exception>
    public async Task<McpClient> GetClientAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task next;
            lock (gate)
            {
                switch (status)
                {
                    case { State: UpstreamState.Ready, Client: { } client }:
                        return client;
                    case { State: UpstreamState.Failed }:
                        throw new UpstreamUnavailableException(setup.Upstream, $"upstream '{setup.Upstream}' is unavailable: {status.LastError}");
                    default:
                        next = settled.Task;
                        break;
                }
            }

            await next.WaitAsync(cancellationToken);
        }
    }

    /// <summary>A request on <paramref name="client"/> failed in a way that means its session is gone: reconnect.</summary>
    public void ReportBroken(McpClient client, string reason)
    {
        lock (gate)
        {
            if (ReferenceEquals(status.Client, client))
            {
                broken?.TrySetResult(reason);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task? running;
        lock (gate)
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }

            running = loop;
        }

        await stopping.CancelAsync();
        if (running is not null)
        {
            await running;
        }

        SweepProcesses();
        SetStatus(new ConnectionStatus(UpstreamState.Failed, StoppedReason, null), notify: false);
        stopping.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task RunAsync(CancellationToken stop)
    {
        var attempt = 0;
        string? lastError = null;
        while (true)
        {
            SetStatus(new ConnectionStatus(UpstreamState.Connecting, lastError, null));
            IClientTransport? transport = null;
            McpClient? client = null;
            long? readySince = null;
            try
            {
                transport = UpstreamClientFactory.CreateTransport(setup, processMarker, tokens, relay, logger);
                // No logger for the SDK: it logs exceptions whose messages quote the server's stderr, and message
                // payloads at Trace. What operators need is logged by us (UpstreamLog), stderr at Trace only.
                client = await McpClient.CreateAsync(transport, options, NullLoggerFactory.Instance, stop);
                logger.Connected(setup.Upstream, setup.AgentSuffix, client.ServerInfo?.Name ?? "(unnamed)", client.ServerInfo?.Version);
                Volatile.Write(ref connected, client);
                await onConnected(client, stop);

                var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (gate)
                {
                    broken = lost;
                }

                readySince = time.GetTimestamp();
                SetStatus(new ConnectionStatus(UpstreamState.Ready, null, client));
                lastError = await WaitUntilLostAsync(client, lost.Task, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Stopping: the finally block closes what was opened.
            }
            catch (OperationCanceledException)
            {
                lastError = $"no answer within {UpstreamErrors.Format(setup.Config.Timeout)}";
            }
            catch (Exception e)
            {
                lastError = UpstreamErrors.Describe(e);
            }
            finally
            {
                Volatile.Write(ref connected, null);
                await CloseAsync(client, transport);
            }

            if (stop.IsCancellationRequested)
            {
                return;
            }

            if (readySince is { } since && time.GetElapsedTime(since) >= RestartBackoff.StableAfter)
            {
                attempt = 0;
            }

            var delay = RestartBackoff.Delay(attempt++, Random.Shared.NextDouble());
            SetStatus(new ConnectionStatus(UpstreamState.Failed, lastError, null));
            logger.RetryScheduled(setup.Upstream, setup.AgentSuffix, lastError ?? "unknown", (long)delay.TotalMilliseconds);
            try
            {
                await Task.Delay(delay, time, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Waits for the session to end (crash, closed stream, a broken request) or for the stop; returns why, or null when stopping.</summary>
    private static async Task<string?> WaitUntilLostAsync(McpClient client, Task<string> broken, CancellationToken stop)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var registration = stop.Register(() => stopped.TrySetResult());
        var first = await Task.WhenAny(client.Completion, broken, stopped.Task);
        if (first == client.Completion)
        {
            return UpstreamErrors.DescribeCompletion(await client.Completion);
        }

        return first == broken ? await broken : null;
    }

    private async Task CloseAsync(McpClient? client, IClientTransport? transport)
    {
        // The SDK kills the stdio process tree here if the process still runs, and ends an HTTP session with DELETE.
        if (client is not null)
        {
            await CloseQuietlyAsync(() => client.DisposeAsync().AsTask().WaitAsync(CloseTimeout));
        }

        // Disposes the HTTP client, which aborts a DELETE still waiting.
        if (transport is IAsyncDisposable disposable)
        {
            await CloseQuietlyAsync(() => disposable.DisposeAsync().AsTask());
        }

        SweepProcesses();
    }

    private async Task CloseQuietlyAsync(Func<Task> close)
    {
        try
        {
            await close();
        }
        catch (Exception e)
        {
            // Closing is best effort; the sweep that follows still removes any process left behind.
            logger.DisposeFailed(setup.Upstream, UpstreamErrors.Describe(e));
        }
    }

    private void SweepProcesses()
    {
        if (setup.Config.Type != Configuration.UpstreamType.Stdio)
        {
            return;
        }

        var killed = ProcessSweeper.Kill(processMarker);
        if (killed > 0)
        {
            logger.KilledLeftovers(setup.Upstream, killed);
        }
    }

    private void SetStatus(ConnectionStatus next, bool notify = true)
    {
        lock (gate)
        {
            status = next;
            if (next.State == UpstreamState.Connecting)
            {
                if (settled.Task.IsCompleted)
                {
                    settled = NewSignal();
                }
            }
            else
            {
                settled.TrySetResult();
            }
        }

        if (notify)
        {
            onStatusChanged?.Invoke(next);
        }
    }
}
