using ApprovalEngine.Gateway.Upstreams;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>Relays an upstream's log messages and elicitation requests to the agent whose call caused them.</summary>
internal sealed class AgentChannel(McpServer server) : IAgentChannel
{
    public bool SupportsElicitation => server.ClientCapabilities?.Elicitation is not null;

    public async ValueTask<ElicitResult> ElicitAsync(ElicitRequestParams request, CancellationToken cancellationToken) =>
        await server.ElicitAsync(request, cancellationToken);

    public async ValueTask SendLogAsync(LoggingMessageNotificationParams message, CancellationToken cancellationToken)
    {
        // Honour the level the agent asked for; before it asks, the protocol lets the server choose, and we send all.
        if (server.LoggingLevel is { } threshold && message.Level < threshold)
        {
            return;
        }

        await server.SendNotificationAsync(NotificationMethods.LoggingMessageNotification, message, cancellationToken: cancellationToken);
    }
}
