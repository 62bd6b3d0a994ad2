using System.Threading.Channels;
using ApprovalEngine.Gateway.Configuration;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>
/// One configured upstream: its base connection (which feeds the catalog and serves agents without credentials),
/// the connections of agents that have their own credentials for it, and the catalog refreshes it runs when the
/// upstream announces list changes.
/// </summary>
internal sealed class ManagedUpstream : IAsyncDisposable
{
    private readonly Action<ManagedUpstream> publish;
    private readonly Func<LoggingLevel?> loggingLevel;
    private readonly TimeProvider time;
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly ClientCredentialsTokenSource? tokens;
    private readonly Lock agentsGate = new();
    private readonly Dictionary<string, UpstreamConnection> agents = new(StringComparer.Ordinal);
    private readonly List<Task> retiring = [];

    // Refreshes are serialized (one listing at a time) and coalesced: a request made while one runs queues at most
    // one more, however many list_changed notifications arrive (server-everything sends one right after start).
    private readonly Channel<bool> refreshRequests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly SemaphoreSlim listGate = new(1, 1);
    private readonly CancellationTokenSource stopping = new();
    private ListedPrimitives listed = ListedPrimitives.None;
    private Task? refreshLoop;
    private bool disposed;

    public ManagedUpstream(UpstreamConfig config, Action<ManagedUpstream> publish, Func<LoggingLevel?> loggingLevel, TimeProvider time, ILoggerFactory loggerFactory)
    {
        Config = config;
        this.publish = publish;
        this.loggingLevel = loggingLevel;
        this.time = time;
        this.loggerFactory = loggerFactory;
        logger = loggerFactory.CreateLogger<UpstreamPool>();
        if (config is { Type: UpstreamType.Http, OAuth: { } oauth })
        {
            tokens = new ClientCredentialsTokenSource(config.Name, oauth, config.Timeout, time, logger);
        }

        Base = new UpstreamConnection(
            new ConnectionSetup(config.Name, config, AgentId: null, Credentials: null),
            tokens,
            OnBaseConnectedAsync,
            _ => publish(this),
            () => refreshRequests.Writer.TryWrite(true),
            time,
            loggerFactory);
    }

    public string Name => Config.Name;

    public UpstreamConfig Config { get; }

    public UpstreamConnection Base { get; }

    public void Start()
    {
        lock (agentsGate)
        {
            if (disposed || refreshLoop is not null)
            {
                return;
            }

            refreshLoop = Task.Run(() => RefreshLoopAsync(stopping.Token));
        }

        Base.Start();
        logger.Started(Name);
    }

    /// <summary>The catalog entry for the upstream now: the base connection's state and what was last listed.</summary>
    public UpstreamCatalogEntry Entry()
    {
        var status = Base.Status;
        var primitives = Volatile.Read(ref listed);
        return new UpstreamCatalogEntry
        {
            Upstream = Name,
            State = status.State,
            LastError = status.State == UpstreamState.Ready ? null : status.LastError,
            Capabilities = primitives.Capabilities,
            Tools = primitives.Tools,
            Resources = primitives.Resources,
            ResourceTemplates = primitives.ResourceTemplates,
            Prompts = primitives.Prompts,
        };
    }

    /// <summary>The agent's own connection when it has credentials for this upstream (created on first use), else the base one.</summary>
    public UpstreamConnection ConnectionFor(AgentConfig agent)
    {
        if (!agent.Credentials.TryGetValue(Name, out var credentials))
        {
            return Base;
        }

        lock (agentsGate)
        {
            if (disposed)
            {
                // Stopped along with the upstream: its calls fail as "stopped".
                return Base;
            }

            if (agents.TryGetValue(agent.Id, out var existing))
            {
                if (ConfigEquality.Same(existing.Setup.Credentials!, credentials))
                {
                    return existing;
                }

                // The caller holds a newer configuration than the one applied last: its credentials win.
                Retire(agent.Id, existing);
            }

            var connection = new UpstreamConnection(
                new ConnectionSetup(Name, Config, agent.Id, credentials),
                tokens,
                ApplyLoggingLevelAsync,
                onStatusChanged: null,
                onListChanged: null,
                time,
                loggerFactory);
            agents[agent.Id] = connection;
            connection.Start();
            return connection;
        }
    }

    /// <summary>Every connection of this upstream, base first.</summary>
    public IReadOnlyList<UpstreamConnection> Connections()
    {
        lock (agentsGate)
        {
            return [Base, .. agents.Values];
        }
    }

    /// <summary>Closes the connections of agents that are gone from <paramref name="agentsNow"/> or whose credentials for this upstream changed.</summary>
    public async Task RetainAgentsAsync(IReadOnlyDictionary<string, AgentConfig> agentsNow)
    {
        Task[] pending;
        lock (agentsGate)
        {
            foreach (var (id, connection) in agents.ToList())
            {
                if (!agentsNow.TryGetValue(id, out var agent)
                    || !agent.Credentials.TryGetValue(Name, out var credentials)
                    || !ConfigEquality.Same(connection.Setup.Credentials!, credentials))
                {
                    Retire(id, connection);
                }
            }

            pending = [.. retiring];
        }

        await Task.WhenAll(pending);
    }

    public async ValueTask DisposeAsync()
    {
        Task[] closing;
        lock (agentsGate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            closing = [.. retiring, .. agents.Values.Select(c => c.DisposeAsync().AsTask())];
            agents.Clear();
        }

        await stopping.CancelAsync();
        await Task.WhenAll([.. closing, Base.DisposeAsync().AsTask()]);

        // Read after disposed was set under the lock, so Start cannot assign it any more.
        if (refreshLoop is not null)
        {
            await refreshLoop;
        }

        tokens?.Dispose();
        stopping.Dispose();
        logger.Stopped(Name);
    }

    private void Retire(string agentId, UpstreamConnection connection)
    {
        agents.Remove(agentId);
        logger.AgentConnectionRetired(Name, agentId);
        retiring.RemoveAll(t => t.IsCompleted);
        retiring.Add(connection.DisposeAsync().AsTask());
    }

    private async Task OnBaseConnectedAsync(McpClient client, CancellationToken cancellationToken)
    {
        await ApplyLoggingLevelAsync(client, cancellationToken);
        await ListAsync(client, cancellationToken);
    }

    private async Task ListAsync(McpClient client, CancellationToken cancellationToken)
    {
        await listGate.WaitAsync(cancellationToken);
        try
        {
            var primitives = await CatalogLoader.LoadAsync(client, Config.Timeout, time, cancellationToken);
            Volatile.Write(ref listed, primitives);
            logger.CatalogLoaded(Name, primitives.Tools.Count, primitives.Resources.Count, primitives.ResourceTemplates.Count, primitives.Prompts.Count);
        }
        finally
        {
            listGate.Release();
        }
    }

    /// <summary>A new session starts at the server's default level; give it the level agents asked for last.</summary>
    private Task ApplyLoggingLevelAsync(McpClient client, CancellationToken cancellationToken) =>
        loggingLevel() is { } level && client.ServerCapabilities.Logging is not null
            ? SetLoggingLevelAsync(client, level, cancellationToken)
            : Task.CompletedTask;

    /// <summary>
    /// Sends <c>logging/setLevel</c>, bounded by the upstream's timeout. Logging is advisory: a refusal, no answer or a
    /// dead connection is logged as a warning and does not fail the connection or the agent's request; only
    /// <paramref name="cancellationToken"/> (the agent's or the connection's own) propagates.
    /// </summary>
    public async Task SetLoggingLevelAsync(McpClient client, LoggingLevel level, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(Config.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await client.SetLoggingLevelAsync(level, options: null, linked.Token);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.SetLevelFailed(Name, deadline.IsCancellationRequested ? $"no answer within {UpstreamErrors.Format(Config.Timeout)}" : UpstreamErrors.Describe(e));
        }
    }

    private async Task RefreshLoopAsync(CancellationToken stop)
    {
        try
        {
            await foreach (var _ in refreshRequests.Reader.ReadAllAsync(stop))
            {
                // Not connected: the next connection lists everything anyway.
                if (Base.ConnectedClient is not { } client)
                {
                    continue;
                }

                try
                {
                    await ListAsync(client, stop);
                    publish(this);
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    // The entry keeps what was listed before; a broken session is the connection's to notice.
                    logger.RefreshFailed(Name, UpstreamErrors.Describe(e));
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
