using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// Passes an upstream's progress on to the agent under the agent's own progress token, in order. The call
/// awaits <see cref="DrainAsync"/> before answering, so no progress arrives after the result.
/// </summary>
internal sealed class ProgressRelay(McpServer server, ProgressToken token) : IProgress<ProgressNotificationValue>
{
    private readonly Lock gate = new();
    private Task last = Task.CompletedTask;

    public void Report(ProgressNotificationValue value)
    {
        lock (gate)
        {
            last = SendAfterAsync(last, value);
        }
    }

    public Task DrainAsync()
    {
        lock (gate)
        {
            return last;
        }
    }

    private async Task SendAfterAsync(Task previous, ProgressNotificationValue value)
    {
        await previous;
        try
        {
            await server.NotifyProgressAsync(token, value);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The agent went away; progress is advisory, the call itself reports the outcome.
        }
    }
}
