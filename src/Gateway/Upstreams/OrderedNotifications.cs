using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>
/// Hands an upstream's progress and log notifications on in the order they arrived, before the response that
/// follows them. The SDK client processes incoming messages concurrently, so its handlers can run after the
/// response has completed the call: the agent would lose the last progress or log lines (seen with the
/// conformance suite's tools-call-with-progress and tools-call-with-logging). Reading them off the transport,
/// where they are still in wire order, closes that race.
/// </summary>
internal sealed class OrderedClientTransport(IClientTransport inner, UpstreamRelay relay) : IClientTransport
{
    public string Name => inner.Name;

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) =>
        new OrderedTransport(await inner.ConnectAsync(cancellationToken), relay);

    private sealed class OrderedTransport : ITransport
    {
        private readonly ITransport inner;
        private readonly Channel<JsonRpcMessage> messages = Channel.CreateUnbounded<JsonRpcMessage>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private readonly Task pump;

        public OrderedTransport(ITransport inner, UpstreamRelay relay)
        {
            this.inner = inner;
            pump = PumpAsync(relay);
        }

        public string? SessionId => inner.SessionId;

        public ChannelReader<JsonRpcMessage> MessageReader => messages.Reader;

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default) => inner.SendMessageAsync(message, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await pump;
        }

        private async Task PumpAsync(UpstreamRelay relay)
        {
            try
            {
                await foreach (var message in inner.MessageReader.ReadAllAsync())
                {
                    if (message is JsonRpcNotification notification)
                    {
                        relay.Dispatch(notification);
                    }

                    messages.Writer.TryWrite(message);
                }

                messages.Writer.TryComplete();
            }
            catch (Exception e)
            {
                // The SDK sees the transport's failure exactly as it would without this wrapper.
                messages.Writer.TryComplete(e);
            }
        }
    }
}

/// <summary>
/// Where the progress of each upstream request goes, by the progress token the gateway gave the request. Tokens
/// are random per request, so one table serves every connection.
/// </summary>
internal static class ProgressRoutes
{
    private static readonly ConcurrentDictionary<string, IProgress<ProgressNotificationValue>> Routes = new(StringComparer.Ordinal);

    public static Route Add(string token, IProgress<ProgressNotificationValue> progress)
    {
        Routes[token] = progress;
        return new Route(token);
    }

    public static void Dispatch(JsonRpcNotification notification)
    {
        if (notification.Params?.Deserialize<ProgressNotificationParams>(McpJsonUtilities.DefaultOptions) is { } update
            && Routes.TryGetValue(update.ProgressToken.ToString() ?? "", out var progress))
        {
            progress.Report(update.Progress);
        }
    }

    public readonly struct Route(string token) : IDisposable
    {
        public void Dispose() => Routes.TryRemove(token, out _);
    }
}
