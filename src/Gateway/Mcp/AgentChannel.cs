using ApprovalEngine.Gateway.Upstreams;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// The agent's side of one proxied request. Progress and log messages go out in the order the upstream sent them,
/// through one queue, and the request drains it before answering, so nothing arrives after the result.
/// Elicitation and sampling requests go straight to the agent, when it can be asked at all.
/// </summary>
internal sealed class AgentChannel(McpServer server) : IAgentChannel, IProgressSink
{
    private readonly Lock gate = new();
    private Task last = Task.CompletedTask;

    public bool SupportsElicitation => CanBeAsked && server.ClientCapabilities?.Elicitation is not null;

    public bool SupportsSampling => CanBeAsked && server.ClientCapabilities?.Sampling is not null;

    // Only a session can take a request from the server: a 2026-07-28 request (no session) must not be sent one on its
    // stream, since that revision replaced them with multi round-trip results, and the answer would reach another
    // per-request server anyway. The upstream is then declined, as for an agent without the capability.
    private bool CanBeAsked => server.SessionId is not null;

    public async ValueTask<ElicitResult> ElicitAsync(ElicitRequestParams request, CancellationToken cancellationToken) =>
        await server.ElicitAsync(request, cancellationToken);

    public async ValueTask<CreateMessageResult> SampleAsync(CreateMessageRequestParams request, CancellationToken cancellationToken) =>
        await server.SampleAsync(request, cancellationToken);

    public ValueTask SendLogAsync(LoggingMessageNotificationParams message, CancellationToken cancellationToken)
    {
        // Honour the level the agent asked for; before it asks, the protocol lets the server choose, and we send all.
        if (server.LoggingLevel is not { } threshold || message.Level >= threshold)
        {
            Enqueue(() => server.SendNotificationAsync(NotificationMethods.LoggingMessageNotification, message));
        }

        return ValueTask.CompletedTask;
    }

    public void SendProgress(ProgressToken token, ProgressNotificationValue value) =>
        Enqueue(() => server.NotifyProgressAsync(token, value));

    /// <summary>Completes when everything queued so far has been sent (or failed to send).</summary>
    public Task DrainAsync()
    {
        lock (gate)
        {
            return last;
        }
    }

    private void Enqueue(Func<Task> send)
    {
        lock (gate)
        {
            last = SendAfterAsync(last, send);
        }
    }

    private static async Task SendAfterAsync(Task previous, Func<Task> send)
    {
        await previous;
        try
        {
            await send();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The agent went away; progress and logs are advisory, the call itself reports the outcome.
        }
    }
}

internal interface IProgressSink
{
    void SendProgress(ProgressToken token, ProgressNotificationValue value);
}

/// <summary>Passes an upstream's progress on to the agent under the agent's own progress token.</summary>
internal sealed class ProgressRelay(IProgressSink sink, ProgressToken token) : IProgress<ProgressNotificationValue>
{
    public void Report(ProgressNotificationValue value) => sink.SendProgress(token, value);
}
