using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// One agent at one endpoint (<c>/mcp</c> or <c>/mcp/{bundle}</c>): a session, or a single stateless request.
/// Resolves the current view lazily, so a reload or an upstream change applies to the next request.
/// </summary>
internal sealed class AgentScope(string agentId, string? bundle, ProxyViews views)
{
    private ProxyView? sent;

    public string AgentId { get; } = agentId;

    /// <summary>The bundle of <c>/mcp/{bundle}</c>; null for <c>/mcp</c>, which offers all of the agent's bundles.</summary>
    public string? Bundle { get; } = bundle;

    public string? SessionId { get; init; }

    /// <summary>The agent as currently configured; null once a reload removed it (its requests are then refused).</summary>
    public AgentConfig? Agent => views.Config.Current.Agents.FindById(AgentId);

    public ProxyView View => Agent is { } agent ? views.Get(agent, Bundle) : views.Empty;

    /// <summary>Which lists changed since the agent was last told, judged by what it would now see.</summary>
    public (bool Tools, bool Prompts, bool Resources) TakeChanges()
    {
        var now = View;
        var before = Interlocked.Exchange(ref sent, now);
        if (before is null)
        {
            return default;
        }

        return (
            !string.Equals(before.ToolsSignature, now.ToolsSignature, StringComparison.Ordinal),
            !string.Equals(before.PromptsSignature, now.PromptsSignature, StringComparison.Ordinal),
            !string.Equals(before.ResourcesSignature, now.ResourcesSignature, StringComparison.Ordinal));
    }

    /// <summary>Remembers what the agent saw when it listed, as the baseline for change notifications.</summary>
    public void MarkSeen() => Interlocked.CompareExchange(ref sent, View, null);
}

/// <summary>Caches one view per (agent, bundle), valid while the configuration and catalog snapshots are the same objects.</summary>
internal sealed class ProxyViews
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Agent, string? Bundle), ProxyView> cache = new();
    private readonly IUpstreams upstreams;
    private readonly ResourceCollisionLog collisions;

    public ProxyViews(LiveConfiguration config, IUpstreams upstreams, ILogger<ProxyViews> logger)
    {
        Config = config;
        this.upstreams = upstreams;
        collisions = new ResourceCollisionLog(logger);

        // Entries of agents a reload removed would otherwise stay.
        config.Changed += _ => cache.Clear();
    }

    public LiveConfiguration Config { get; }

    public ProxyView Empty => Get(new AgentConfig { Id = "", Owner = "" }, "");

    public ProxyView Get(AgentConfig agent, string? bundle)
    {
        var snapshot = Config.Current;
        var catalog = upstreams.Catalog;
        var key = (agent.Id, bundle);
        if (cache.TryGetValue(key, out var view) && ReferenceEquals(view.Config, snapshot) && ReferenceEquals(view.Catalog, catalog))
        {
            return view;
        }

        view = ProxyView.Build(snapshot, catalog, agent, bundle);
        collisions.Report(view);
        cache[key] = view;
        return view;
    }
}
