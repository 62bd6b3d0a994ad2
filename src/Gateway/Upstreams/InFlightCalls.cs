using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>
/// The calls running on one upstream connection, each with its agent's channel: the only places where
/// upstream-initiated messages (log notifications, elicitation requests) can go.
/// </summary>
internal sealed class InFlightCalls
{
    private readonly ConcurrentDictionary<long, IAgentChannel?> calls = new();
    private long lastId;

    public int Count => calls.Count;

    public Registration Add(IAgentChannel? channel)
    {
        var id = Interlocked.Increment(ref lastId);
        calls[id] = channel;
        return new Registration(this, id);
    }

    /// <summary>The distinct channels of the calls in flight (several calls of one agent session share one).</summary>
    public IReadOnlyList<IAgentChannel> Channels()
    {
        var distinct = new HashSet<IAgentChannel>(ReferenceEqualityComparer.Instance);
        foreach (var channel in calls.Values)
        {
            if (channel is not null)
            {
                distinct.Add(channel);
            }
        }

        return [.. distinct];
    }

    public readonly struct Registration(InFlightCalls owner, long id) : IDisposable
    {
        public void Dispose() => owner.calls.TryRemove(id, out _);
    }
}

/// <summary>
/// Routes an upstream's log notifications and elicitation requests to the agents whose calls are in flight on the
/// same connection. MCP gives these messages no dependable link to the request that caused them: over stdio they
/// arrive on the one pipe every caller of a shared upstream uses (and over HTTP the SDK does not tell the handler
/// which request stream they came on). So a shared upstream cannot tell its callers apart; an agent with its own
/// credentials has its own connection and so its own messages.
/// </summary>
internal sealed class UpstreamRelay(string upstream, InFlightCalls calls, ILogger logger)
{
    private static readonly ElicitResult Decline = new() { Action = "decline" };

    /// <summary>
    /// Called by <see cref="OrderedClientTransport"/> for each notification, in wire order and before any response
    /// that follows it. Must not block: the upstream's next message waits for it.
    /// </summary>
    public void Dispatch(JsonRpcNotification notification)
    {
        switch (notification.Method)
        {
            case NotificationMethods.ProgressNotification:
                ProgressRoutes.Dispatch(notification);
                break;
            case NotificationMethods.LoggingMessageNotification:
                // Agent channels queue the message synchronously, so the order holds without waiting here.
                var relayed = RelayLogAsync(notification, CancellationToken.None);
                if (!relayed.IsCompleted)
                {
                    _ = relayed.AsTask();
                }

                break;
        }
    }

    /// <summary>
    /// Sends a log message to every agent with a call in flight on the connection; none in flight, it is dropped.
    /// Logs are advisory, so every agent that might be concerned sees it rather than none.
    /// </summary>
    public async ValueTask RelayLogAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        var message = notification.Params?.Deserialize<LoggingMessageNotificationParams>(McpJsonUtilities.DefaultOptions);
        if (message is null)
        {
            return;
        }

        var channels = calls.Channels();
        if (channels.Count == 0)
        {
            logger.LogDropped(upstream);
            return;
        }

        foreach (var channel in channels)
        {
            try
            {
                await channel.SendLogAsync(message, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One agent's broken session must not keep the message from the others.
                logger.LogRelayFailed(upstream, e);
            }
        }
    }

    /// <summary>
    /// Forwards an elicitation request to the one agent that can answer it, or declines. An elicitation asks a human
    /// for input (possibly a secret), so it goes only where it unambiguously belongs: exactly one call in flight on
    /// this connection whose agent supports elicitation. With two such calls on a shared connection the request could
    /// belong to either, and asking the wrong person is worse than declining.
    /// </summary>
    public async ValueTask<ElicitResult> ElicitAsync(ElicitRequestParams? request, CancellationToken cancellationToken)
    {
        if (request is not null && SoleChannel(c => c.SupportsElicitation, "elicitation") is { } channel)
        {
            return await channel.ElicitAsync(request, cancellationToken);
        }

        return Decline;
    }

    /// <summary>Forwards a sampling request (an LLM completion at the agent's expense) by the same rule as elicitation.</summary>
    public async ValueTask<CreateMessageResult> SampleAsync(CreateMessageRequestParams? request, IProgress<ProgressNotificationValue> progress, CancellationToken cancellationToken)
    {
        if (request is not null && SoleChannel(c => c.SupportsSampling, "sampling") is { } channel)
        {
            return await channel.SampleAsync(request, cancellationToken);
        }

        throw new McpProtocolException($"Upstream '{upstream}' asked for sampling, but no single agent call in flight on its connection can answer it.", McpErrorCode.InvalidRequest);
    }

    private IAgentChannel? SoleChannel(Func<IAgentChannel, bool> capable, string feature)
    {
        var candidates = calls.Channels().Where(capable).ToList();
        switch (candidates.Count)
        {
            case 1:
                return candidates[0];
            case 0:
                logger.ElicitationDeclined(upstream, $"no call in flight on this connection comes from an agent that supports {feature}");
                return null;
            default:
                logger.ElicitationDeclined(upstream, $"{candidates.Count} calls in flight on this shared connection could have asked for {feature}, and the upstream cannot say which");
                return null;
        }
    }
}
