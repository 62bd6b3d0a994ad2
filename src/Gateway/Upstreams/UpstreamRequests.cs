using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>
/// Sends a request to an upstream under an id the gateway chooses, so that it can name the request in
/// <c>notifications/cancelled</c> itself: the 2.3.1 client sends none when a request's token is cancelled while it
/// waits for the response (its sender is a token registration, unregistered before it runs; see below).
/// </summary>
internal static class UpstreamRequests
{
    private static readonly TimeSpan CancelSendTimeout = TimeSpan.FromSeconds(10);

    public static async Task<TResult> SendAsync<TParams, TResult>(
        McpClient client,
        string method,
        TParams parameters,
        IProgress<ProgressNotificationValue>? progress,
        Func<string> cancelReason,
        ILogger logger,
        string upstream,
        CancellationToken cancellationToken)
        where TParams : RequestParams
    {
        var id = new RequestId($"gateway-{Guid.NewGuid():N}");
        ProgressRoutes.Route? progressRoute = null;
        if (progress is not null)
        {
            // A token of our own: the agent's token belongs to the agent's session, not to this one. Routed in wire
            // order by OrderedClientTransport, so no update is lost to the response overtaking it.
            var token = $"gateway-{Guid.NewGuid():N}";
            parameters.Meta = new JsonObject { ["progressToken"] = token };
            progressRoute = ProgressRoutes.Add(token, progress);
        }

        var request = new JsonRpcRequest
        {
            Id = id,
            Method = method,
            Params = JsonSerializer.SerializeToNode(parameters, McpJsonUtilities.DefaultOptions),
        };

        try
        {
            var response = await client.SendRequestAsync(request, cancellationToken);
            return response.Result.Deserialize<TResult>(McpJsonUtilities.DefaultOptions)
                ?? throw new McpException($"the upstream answered {method} with an empty result");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Sent from here rather than from a token registration: registrations run last-in first-out, and the
            // SDK's wait for the response, registered last, completes first and unwinds this method inline, which
            // disposes every registration that has not run yet. The caller does not wait for the send.
            _ = SendCancelledAsync(client, id, cancelReason(), logger, upstream);
            throw;
        }
        finally
        {
            progressRoute?.Dispose();
        }
    }

    private static async Task SendCancelledAsync(McpClient client, RequestId id, string reason, ILogger logger, string upstream)
    {
        // Bounded: an HTTP upstream that stopped answering must not hold this send forever.
        using var timeout = new CancellationTokenSource(CancelSendTimeout);
        try
        {
            var notification = new JsonRpcNotification
            {
                Method = NotificationMethods.CancelledNotification,
                Params = JsonSerializer.SerializeToNode(new CancelledNotificationParams { RequestId = id, Reason = reason }, McpJsonUtilities.DefaultOptions),
            };
            await client.SendMessageAsync(notification, timeout.Token);
        }
        catch (Exception e)
        {
            // The session is going away; the upstream loses the request with it.
            logger.CancelNotSent(upstream, UpstreamErrors.Describe(e));
        }
    }
}
