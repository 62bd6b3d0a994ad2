using System.Collections.Concurrent;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// The live agent sessions of this node: closes idle ones, tells sessions when what they see changed
/// (list_changed), and closes all of them when the node stops.
/// </summary>
internal sealed partial class AgentSessions : BackgroundService
{
    private readonly ConcurrentDictionary<string, AgentSession> sessions = new(StringComparer.Ordinal);
    private readonly LiveConfiguration config;
    private readonly TimeProvider time;
    private readonly ILogger<AgentSessions> logger;

    public AgentSessions(LiveConfiguration config, IUpstreams upstreams, TimeProvider time, ILogger<AgentSessions> logger)
    {
        this.config = config;
        this.time = time;
        this.logger = logger;
        upstreams.CatalogChanged += _ => NotifyChanges();
        config.Changed += _ => NotifyChanges();
    }

    public int Count => sessions.Count;

    public void Add(AgentSession session) => sessions[session.Id] = session;

    public AgentSession? Find(string id) => sessions.GetValueOrDefault(id);

    public async Task<bool> CloseAsync(string id)
    {
        if (!sessions.TryRemove(id, out var session))
        {
            return false;
        }

        await session.DisposeAsync();
        return true;
    }

    /// <summary>Closes sessions idle past <c>server.sessionIdleTimeout</c>; returns how many. Runs on a timer; public for tests.</summary>
    public async Task<int> SweepAsync()
    {
        var timeout = config.Current.Config.Server.SessionIdleTimeout;
        var closed = 0;
        foreach (var session in sessions.Values)
        {
            if (session.IsIdleLongerThan(timeout) && await CloseAsync(session.Id))
            {
                LogEvicted(session.Scope.AgentId, timeout);
                closed++;
            }
        }

        return closed;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        foreach (var id in sessions.Keys)
        {
            await CloseAsync(id);
        }
    }

    /// <summary>
    /// How often idle sessions are looked for: a tenth of the timeout keeps eviction within 10% of it, bounded to
    /// stay cheap (at least 1 s) and responsive (at most 30 s).
    /// </summary>
    private static TimeSpan SweepInterval(TimeSpan idleTimeout) =>
        TimeSpan.FromTicks(Math.Clamp(idleTimeout.Ticks / 10, TimeSpan.TicksPerSecond, 30 * TimeSpan.TicksPerSecond));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SweepInterval(config.Current.Config.Server.SessionIdleTimeout), time);

        // A reload may shorten the timeout: the interval follows, or a 30 s sweep would hold sessions far past a 2 s timeout.
        void Follow(ConfigSnapshot snapshot)
        {
            // Setting the period restarts the wait, so only a change sets it: frequent reloads must not postpone sweeps.
            var interval = SweepInterval(snapshot.Config.Server.SessionIdleTimeout);
            try
            {
                if (timer.Period != interval)
                {
                    timer.Period = interval;
                }
            }
            catch (ObjectDisposedException)
            {
                // The node is stopping; there is nothing left to sweep.
            }
        }

        config.Changed += Follow;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SweepAsync();
            }
        }
        finally
        {
            config.Changed -= Follow;
        }
    }

    private void NotifyChanges()
    {
        foreach (var session in sessions.Values)
        {
            var (tools, prompts, resources) = session.Scope.TakeChanges();
            if (tools)
            {
                Send(session, NotificationMethods.ToolListChangedNotification);
            }

            if (prompts)
            {
                Send(session, NotificationMethods.PromptListChangedNotification);
            }

            if (resources)
            {
                Send(session, NotificationMethods.ResourceListChangedNotification);
            }
        }
    }

    private void Send(AgentSession session, string method) => _ = SendAsync(session, method);

    private async Task SendAsync(AgentSession session, string method)
    {
        try
        {
            await session.Server.SendNotificationAsync(method, session.Closed);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The session is closing; it will not need the notification.
            LogNotifyFailed(session.Scope.AgentId, method, e.GetType().Name);
        }
    }

    [LoggerMessage(3400, LogLevel.Information, "Closed the idle session of agent {Agent} (idle longer than {Timeout})")]
    private partial void LogEvicted(string agent, TimeSpan timeout);

    [LoggerMessage(3401, LogLevel.Debug, "Could not send {Method} to agent {Agent}: {Reason}")]
    private partial void LogNotifyFailed(string agent, string method, string reason);
}
