using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Upstreams;

public enum UpstreamState
{
    /// <summary>Not connected yet, or reconnecting after a failure.</summary>
    Connecting,
    Ready,
    /// <summary>The last attempt failed; another follows after the backoff delay.</summary>
    Failed,
}

/// <summary>The names states have in readiness reports and the status API.</summary>
public static class UpstreamStates
{
    /// <summary><c>starting</c> (connecting or reconnecting), <c>ready</c>, or <c>failed</c> (retrying after a backoff).</summary>
    public static string Name(UpstreamState state) => state switch
    {
        UpstreamState.Ready => "ready",
        UpstreamState.Failed => "failed",
        _ => "starting",
    };
}

/// <summary>One upstream's primitives, as last listed, with upstream-local names (not namespaced).</summary>
public sealed record UpstreamCatalogEntry
{
    public required string Upstream { get; init; }

    public UpstreamState State { get; init; }

    /// <summary>Why the upstream is not ready (no secrets, no raw stderr); null when ready.</summary>
    public string? LastError { get; init; }

    public ServerCapabilities? Capabilities { get; init; }

    public IReadOnlyList<Tool> Tools { get; init; } = [];

    public IReadOnlyList<Resource> Resources { get; init; } = [];

    public IReadOnlyList<ResourceTemplate> ResourceTemplates { get; init; } = [];

    public IReadOnlyList<Prompt> Prompts { get; init; } = [];
}

/// <summary>An immutable snapshot of every configured upstream; a new one replaces it after each refresh.</summary>
public sealed record UpstreamCatalog
{
    public static readonly UpstreamCatalog Empty = new();

    /// <summary>Grows with every change, so a consumer can tell snapshots apart cheaply.</summary>
    public long Version { get; init; }

    public IReadOnlyDictionary<string, UpstreamCatalogEntry> Upstreams { get; init; } = new Dictionary<string, UpstreamCatalogEntry>();
}

/// <summary>
/// The agent's side of one proxied request: upstream-initiated messages that belong to the request (log
/// messages, elicitation) go back through it. Implemented over the agent's MCP session.
/// </summary>
/// <remarks>
/// An upstream's messages carry no dependable link to the request that caused them, so they go to the channels of
/// the calls in flight on the same upstream connection: log messages to all of them, an elicitation only when
/// exactly one of them supports elicitation (otherwise the upstream is answered "decline"). Agents with their own
/// credentials for an upstream have their own connection to it, so only a shared connection mixes callers.
/// </remarks>
public interface IAgentChannel
{
    bool SupportsElicitation { get; }

    ValueTask<ElicitResult> ElicitAsync(ElicitRequestParams request, CancellationToken cancellationToken);

    bool SupportsSampling { get; }

    ValueTask<CreateMessageResult> SampleAsync(CreateMessageRequestParams request, CancellationToken cancellationToken);

    /// <summary>Queues the message for the agent in order, and returns without waiting for it to be sent.</summary>
    ValueTask SendLogAsync(LoggingMessageNotificationParams message, CancellationToken cancellationToken);
}

/// <summary>Who is calling an upstream, and where messages that belong to the call go.</summary>
public sealed record UpstreamCallContext
{
    /// <summary>Selects the agent's credentials for the upstream (identity mediation).</summary>
    public required AgentConfig Agent { get; init; }

    /// <summary>Receives the upstream's progress notifications for this call; null when the agent sent no progress token.</summary>
    public IProgress<ProgressNotificationValue>? Progress { get; init; }

    /// <summary>Receives log messages and elicitation requests raised while the call runs; null drops them.</summary>
    public IAgentChannel? Channel { get; init; }
}

/// <summary>The upstream could not serve the call: it is down, crashed mid-call, or timed out. The message is safe to show the agent.</summary>
public sealed class UpstreamUnavailableException(string upstream, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public string Upstream { get; } = upstream;

    /// <summary>The upstream's timeout passed (it did not become ready, or did not answer, in time).</summary>
    public bool TimedOut { get; init; }
}

/// <summary>The gateway's view of every upstream MCP server (implemented by <c>UpstreamPool</c>).</summary>
public interface IUpstreams
{
    UpstreamCatalog Catalog { get; }

    /// <summary>Raised after <see cref="Catalog"/> changed (an upstream connected, failed, or sent list_changed).</summary>
    event Action<UpstreamCatalog>? CatalogChanged;

    /// <exception cref="UpstreamUnavailableException">Down, crashed mid-call, or past the upstream's timeout.</exception>
    /// <exception cref="ModelContextProtocol.McpException">The upstream answered with a JSON-RPC error (code kept).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the upstream was sent notifications/cancelled.</exception>
    Task<CallToolResult> CallToolAsync(string upstream, string tool, IReadOnlyDictionary<string, JsonElement>? arguments, UpstreamCallContext context, CancellationToken cancellationToken);

    Task<ReadResourceResult> ReadResourceAsync(string upstream, string uri, UpstreamCallContext context, CancellationToken cancellationToken);

    Task<GetPromptResult> GetPromptAsync(string upstream, string prompt, IReadOnlyDictionary<string, JsonElement>? arguments, UpstreamCallContext context, CancellationToken cancellationToken);

    /// <summary>Completion for a prompt argument or resource template, with upstream-local names in <paramref name="request"/>.</summary>
    Task<CompleteResult> CompleteAsync(string upstream, CompleteRequestParams request, UpstreamCallContext context, CancellationToken cancellationToken);

    /// <summary>Forwards a logging level to every ready upstream that advertises logging; never fails for the others.</summary>
    Task SetLoggingLevelAsync(LoggingLevel level, CancellationToken cancellationToken);
}
