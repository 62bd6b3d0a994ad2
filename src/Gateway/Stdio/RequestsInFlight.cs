using System.Collections.Concurrent;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Stdio;

/// <summary>The client's requests whose POST to the gateway is still open, each with a way to abandon it.</summary>
internal sealed class RequestsInFlight(ITransport local, ITransport remote, TextWriter error)
{
    private readonly ConcurrentDictionary<RequestId, CancellationTokenSource> open = new();
    private readonly ConcurrentDictionary<Task, byte> running = new();

    public void Start(JsonRpcRequest request, CancellationToken stopping)
    {
        var abandon = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        open[request.Id] = abandon;
        var relay = RelayAsync(request, abandon, stopping);
        running[relay] = 0;
        _ = relay.ContinueWith(done => running.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// The client cancelled a request, and the gateway has been told so: close its POST too. The client expects no
    /// answer to it any more, and the gateway treats the closed stream as a cancellation as well.
    /// </summary>
    public void Abandon(JsonRpcNotification cancelled)
    {
        if (cancelled.Params?.Deserialize<CancelledNotificationParams>(McpJsonUtilities.DefaultOptions) is { } parameters
            && open.TryGetValue(parameters.RequestId, out var abandon))
        {
            try
            {
                abandon.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The request ended meanwhile.
            }
        }
    }

    /// <summary>Completes when every relayed request has ended (after the bridge stopped, by cancellation).</summary>
    public Task EndedAsync() => Task.WhenAll(running.Keys);

    private async Task RelayAsync(JsonRpcRequest request, CancellationTokenSource abandon, CancellationToken stopping)
    {
        try
        {
            await remote.SendMessageAsync(request, abandon.Token);
        }
        catch (OperationCanceledException) when (abandon.IsCancellationRequested)
        {
            // Cancelled by the client, or the bridge is stopping: nobody waits for an answer.
        }
        catch (Exception e) when (e is HttpRequestException or McpException or IOException)
        {
            // The gateway refused the request or the connection broke: answer it, rather than leave the client waiting.
            await error.WriteLineAsync($"The gateway did not answer {request.Method}: {e.Message}");
            var code = e is McpProtocolException protocol ? protocol.ErrorCode : McpErrorCode.InternalError;
            await AnswerAsync(new JsonRpcError { Id = request.Id, Error = new() { Code = (int)code, Message = $"The gateway did not answer: {e.Message}" } }, stopping);
        }
        finally
        {
            open.TryRemove(request.Id, out _);
            abandon.Dispose();
        }
    }

    private async Task AnswerAsync(JsonRpcMessage message, CancellationToken stopping)
    {
        try
        {
            await local.SendMessageAsync(message, stopping);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client is gone: there is nobody left to answer.
        }
    }
}
