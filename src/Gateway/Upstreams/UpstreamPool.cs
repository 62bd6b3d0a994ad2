using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Telemetry;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>
/// The gateway's MCP client side: one kept-alive connection per configured upstream (plus one per agent that has its
/// own credentials for it), a catalog of what they offer, and calls with a per-upstream timeout. Configuration is
/// applied with <see cref="ApplyAsync"/>, which starts, stops and restarts upstreams to match it.
/// </summary>
public sealed class UpstreamPool : IUpstreams, IAsyncDisposable
{
    private readonly TimeProvider time;
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly SemaphoreSlim applyGate = new(1, 1);

    // Guards the upstream map and catalog publication; CatalogChanged is raised under it so snapshots arrive in order.
    private readonly Lock gate = new();
    private readonly Dictionary<string, ManagedUpstream> upstreams = new(StringComparer.Ordinal);
    private UpstreamCatalog catalog = UpstreamCatalog.Empty;
    private LoggingLevel? loggingLevel;
    private readonly GatewayMetrics metrics;
    private bool disposed;

    public UpstreamPool(TimeProvider time, ILoggerFactory loggerFactory, GatewayMetrics? metrics = null)
    {
        this.time = time;
        this.metrics = metrics ?? new GatewayMetrics();
        this.loggerFactory = loggerFactory;
        logger = loggerFactory.CreateLogger<UpstreamPool>();
    }

    /// <inheritdoc/>
    /// <remarks>Handlers run under the publication lock, in order; keep them short, and do not wait in them for another catalog change.</remarks>
    public event Action<UpstreamCatalog>? CatalogChanged;

    public UpstreamCatalog Catalog => Volatile.Read(ref catalog);

    /// <summary>
    /// Makes the running upstreams match <paramref name="config"/>: starts added ones, stops removed ones (their
    /// processes are gone when this returns), restarts those whose connection settings changed, and closes agent
    /// connections whose credentials changed. Returns without waiting for upstreams to connect.
    /// </summary>
    public async Task ApplyAsync(GatewayConfig config, CancellationToken cancellationToken = default)
    {
        await applyGate.WaitAsync(cancellationToken);
        try
        {
            var stop = new List<ManagedUpstream>();
            var start = new List<ManagedUpstream>();
            lock (gate)
            {
                ObjectDisposedException.ThrowIf(disposed, this);
                foreach (var (name, running) in upstreams.ToList())
                {
                    if (!config.Upstreams.TryGetValue(name, out var wanted))
                    {
                        upstreams.Remove(name);
                        stop.Add(running);
                    }
                    else if (!ConfigEquality.SameConnection(running.Config, wanted))
                    {
                        logger.Restarting(name);
                        stop.Add(running);
                        upstreams[name] = New(wanted);
                        start.Add(upstreams[name]);
                    }
                }

                foreach (var (name, wanted) in config.Upstreams)
                {
                    if (!upstreams.ContainsKey(name))
                    {
                        upstreams[name] = New(wanted);
                        start.Add(upstreams[name]);
                    }
                }

                PublishLocked();
            }

            // Stopped before their replacements start: a restarted server may need the port or files the old one held.
            try
            {
                await Task.WhenAll(stop.Select(u => u.DisposeAsync().AsTask()));
            }
            finally
            {
                // Already in the map: if they were not started now, nothing would start them later.
                foreach (var upstream in start)
                {
                    upstream.Start();
                }
            }

            await Task.WhenAll(Snapshot().Select(u => u.RetainAgentsAsync(config.Agents)));
        }
        finally
        {
            applyGate.Release();
        }
    }

    public async Task<CallToolResult> CallToolAsync(string upstream, string tool, IReadOnlyDictionary<string, JsonElement>? arguments, UpstreamCallContext context, CancellationToken cancellationToken)
    {
        // The JsonElements go out as they came in: the upstream gets exactly the arguments the agent sent.
        var request = new CallToolRequestParams { Name = tool, Arguments = arguments?.ToDictionary() };
        using var span = GatewayTelemetry.StartUpstreamCall(upstream, tool);
        try
        {
            return await InvokeAsync<CallToolRequestParams, CallToolResult>(upstream, RequestMethods.ToolsCall, tool, request, context, context.Progress, cancellationToken);
        }
        catch (UpstreamUnavailableException e)
        {
            metrics.UpstreamFailed(span, upstream, e.TimedOut ? "timeout" : "unavailable", e.Message);
            throw;
        }
        catch (McpException e) when (!cancellationToken.IsCancellationRequested)
        {
            metrics.UpstreamFailed(span, upstream, "protocol", e.Message);
            throw;
        }
    }

    public Task<ReadResourceResult> ReadResourceAsync(string upstream, string uri, UpstreamCallContext context, CancellationToken cancellationToken) =>
        InvokeAsync<ReadResourceRequestParams, ReadResourceResult>(upstream, RequestMethods.ResourcesRead, uri, new ReadResourceRequestParams { Uri = uri }, context, progress: null, cancellationToken);

    public Task<GetPromptResult> GetPromptAsync(string upstream, string prompt, IReadOnlyDictionary<string, JsonElement>? arguments, UpstreamCallContext context, CancellationToken cancellationToken) =>
        InvokeAsync<GetPromptRequestParams, GetPromptResult>(upstream, RequestMethods.PromptsGet, prompt, new GetPromptRequestParams { Name = prompt, Arguments = arguments?.ToDictionary() }, context, progress: null, cancellationToken);

    public Task<CompleteResult> CompleteAsync(string upstream, CompleteRequestParams request, UpstreamCallContext context, CancellationToken cancellationToken) =>
        InvokeAsync<CompleteRequestParams, CompleteResult>(upstream, RequestMethods.CompletionComplete, request.Argument.Name, request, context, progress: null, cancellationToken);

    /// <summary>Calls in flight on every connection of <paramref name="upstream"/> (0 when it is not configured): for tests and diagnostics.</summary>
    internal int InFlightCount(string upstream)
    {
        ManagedUpstream? managed;
        lock (gate)
        {
            managed = upstreams.GetValueOrDefault(upstream);
        }

        return managed?.Connections().Sum(c => c.Calls.Count) ?? 0;
    }

    public async Task SetLoggingLevelAsync(LoggingLevel level, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            // Remembered for connections made later (restarts, agents' first calls).
            loggingLevel = level;
        }

        var sends = new List<Task>();
        foreach (var upstream in Snapshot())
        {
            foreach (var connection in upstream.Connections())
            {
                if (connection.Status is { State: UpstreamState.Ready, Client: { ServerCapabilities.Logging: not null } client })
                {
                    sends.Add(upstream.SetLoggingLevelAsync(client, level, cancellationToken));
                }
            }
        }

        await Task.WhenAll(sends);
    }

    public async ValueTask DisposeAsync()
    {
        await applyGate.WaitAsync();
        try
        {
            List<ManagedUpstream> all;
            lock (gate)
            {
                if (disposed)
                {
                    return;
                }

                disposed = true;
                all = [.. upstreams.Values];
                upstreams.Clear();
                PublishLocked();
            }

            await Task.WhenAll(all.Select(u => u.DisposeAsync().AsTask()));
        }
        finally
        {
            applyGate.Release();
        }
    }

    private ManagedUpstream New(UpstreamConfig config) => new(config, Publish, CurrentLoggingLevel, time, loggerFactory);

    private LoggingLevel? CurrentLoggingLevel()
    {
        lock (gate)
        {
            return loggingLevel;
        }
    }

    private List<ManagedUpstream> Snapshot()
    {
        lock (gate)
        {
            return [.. upstreams.Values];
        }
    }

    private ManagedUpstream Find(string name)
    {
        lock (gate)
        {
            return upstreams.TryGetValue(name, out var upstream)
                ? upstream
                : throw new UpstreamUnavailableException(name, $"upstream '{name}' is not configured");
        }
    }

    /// <summary>Publishes the entry of <paramref name="upstream"/> unless it has been replaced or removed meanwhile.</summary>
    private void Publish(ManagedUpstream upstream)
    {
        lock (gate)
        {
            if (upstreams.TryGetValue(upstream.Name, out var current) && ReferenceEquals(current, upstream))
            {
                PublishLocked();
            }
        }
    }

    private void PublishLocked()
    {
        // Entries are composed here, under the lock, so the last publication always carries the latest state.
        var next = new UpstreamCatalog
        {
            Version = catalog.Version + 1,
            Upstreams = upstreams.Values.ToDictionary(u => u.Name, u => u.Entry(), StringComparer.Ordinal),
        };
        Volatile.Write(ref catalog, next);
        try
        {
            CatalogChanged?.Invoke(next);
        }
        catch (Exception e)
        {
            // A consumer's bug must not stop upstreams from connecting or reporting.
            logger.CatalogHandlerFailed(e);
        }
    }

    private async Task<TResult> InvokeAsync<TParams, TResult>(
        string upstream,
        string method,
        string target,
        TParams parameters,
        UpstreamCallContext context,
        IProgress<ProgressNotificationValue>? progress,
        CancellationToken cancellationToken)
        where TParams : RequestParams
    {
        var managed = Find(upstream);
        var connection = managed.ConnectionFor(context.Agent);
        var timeout = managed.Config.Timeout;
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        McpClient client;
        try
        {
            client = await connection.GetClientAsync(linked.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new UpstreamUnavailableException(upstream, $"upstream '{upstream}' did not become ready within {UpstreamErrors.Format(timeout)}") { TimedOut = true };
        }

        using var registration = connection.Calls.Add(context.Channel);
        string CancelReason() => deadline.IsCancellationRequested
            ? $"the gateway's timeout of {UpstreamErrors.Format(timeout)} passed"
            : "the agent cancelled the request";
        var call = UpstreamRequests.SendAsync<TParams, TResult>(client, method, parameters, progress, CancelReason, logger, upstream, linked.Token);
        try
        {
            // A session that ends (the process died) fails its pending requests, but only after the SDK has finished
            // any handlers still running on it; racing the session's end answers the caller at once.
            if (await Task.WhenAny(call, client.Completion) != call)
            {
                Observe(call);
                throw Lost(await LostReasonAsync(client, "the connection closed"));
            }

            return await call;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // UpstreamRequests has sent notifications/cancelled for the request.
            logger.CallTimedOut(upstream, method, target, (long)timeout.TotalMilliseconds);
            throw new UpstreamUnavailableException(upstream, $"upstream '{upstream}' did not answer {method} '{target}' within {UpstreamErrors.Format(timeout)}") { TimedOut = true };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Neither the caller nor the deadline: the session was closed under the request (it ended, or was stopped).
            throw Lost(await LostReasonAsync(client, "the connection closed"));
        }
        catch (Exception e) when (UpstreamErrors.IsConnectionFailure(e))
        {
            var reason = await LostReasonAsync(client, UpstreamErrors.Describe(e));
            connection.ReportBroken(client, reason);

            // No inner exception: SDK messages can quote the server's stderr or a header value.
            throw Lost(reason);
        }

        UpstreamUnavailableException Lost(string reason)
        {
            logger.CallLostConnection(upstream, method, target, reason);
            return new UpstreamUnavailableException(upstream, $"upstream '{upstream}' failed during {method} '{target}': {reason}");
        }
    }

    /// <summary>Why the session ended, when it has (an exit code says more than the I/O error it caused); else <paramref name="fallback"/>.</summary>
    private static async Task<string> LostReasonAsync(McpClient client, string fallback) =>
        client.Completion.IsCompleted ? UpstreamErrors.DescribeCompletion(await client.Completion) : fallback;

    // The call was abandoned for the session's end; its own failure follows and is of no further interest.
    private static void Observe(Task task) => task.ContinueWith(
        t => t.Exception,
        CancellationToken.None,
        TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
        TaskScheduler.Default);
}
