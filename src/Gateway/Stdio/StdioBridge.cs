using System.Threading.Channels;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Stdio;

/// <summary>
/// <c>stdio --url URL</c>: for MCP clients that can only launch a local process. Relays every JSON-RPC message
/// between this process's stdin/stdout and the gateway's Streamable HTTP endpoint, so the agent gets the same
/// bundle, identity, policy and audit as over HTTP. The agent key comes from an environment variable, never argv
/// (process listings show arguments).
/// </summary>
public static class StdioBridge
{
    public const string Command = "stdio";
    public const string KeyVariable = "APPROVAL_ENGINE_KEY";

    public static bool Matches(string[] args) => args.Length > 0 && args[0] == Command;

    public static async Task<int> RunAsync(string[] args, Func<string, string?> environment, TextWriter error, CancellationToken cancellationToken)
    {
        var url = ParseUrl(args, error);
        if (url is null)
        {
            return 2;
        }

        var key = environment(KeyVariable);
        if (string.IsNullOrWhiteSpace(key))
        {
            error.WriteLine($"Set {KeyVariable} to the agent's API key (ae_live_...).");
            return 2;
        }

        await using var local = new StdioServerTransport("approval-engine");
        await using var remoteTransport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = url,
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {key.Trim()}" },
        });
        await using var remote = await remoteTransport.ConnectAsync(cancellationToken);

        // Either side ending (the client closes stdin, or the gateway drops the session) ends the bridge.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var requests = new RequestsInFlight(local, remote, error);
        var up = PumpUpAsync(local.MessageReader, remote, requests, stop.Token);
        var down = PumpAsync(remote.MessageReader, local, stop.Token);
        await Task.WhenAny(up, down);
        await stop.CancelAsync();
        await Task.WhenAll(Ended(up), Ended(down), requests.EndedAsync());
        return 0;
    }

    private static Uri? ParseUrl(string[] args, TextWriter error)
    {
        for (var i = 1; i < args.Length - 1; i++)
        {
            if (args[i] == "--url")
            {
                if (Uri.TryCreate(args[i + 1], UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps))
                {
                    return url;
                }

                error.WriteLine($"--url must be an http(s) URL such as http://127.0.0.1:8080/mcp/my-bundle (got \"{args[i + 1]}\").");
                return null;
            }
        }

        error.WriteLine("Usage: approval-engine stdio --url http://127.0.0.1:8080/mcp/<bundle>   (agent key in $" + KeyVariable + ")");
        return null;
    }

    /// <summary>
    /// Client to gateway. Over HTTP a request is sent by a POST that lasts until its answer, so requests go out side by
    /// side: sent one after another, the client's answer to an elicitation, its cancellation or its next call would
    /// wait behind the very call they concern. Everything else (initialize, whose answer carries the session every
    /// later message needs; notifications; the client's answers) goes out in order, each waiting for the previous.
    /// </summary>
    private static async Task PumpUpAsync(ChannelReader<JsonRpcMessage> from, ITransport to, RequestsInFlight requests, CancellationToken cancellationToken)
    {
        await foreach (var message in from.ReadAllAsync(cancellationToken))
        {
            if (message is JsonRpcRequest request && request.Method != RequestMethods.Initialize)
            {
                requests.Start(request, cancellationToken);
                continue;
            }

            await to.SendMessageAsync(message, cancellationToken);
            if (message is JsonRpcNotification { Method: NotificationMethods.CancelledNotification } cancelled)
            {
                requests.Abandon(cancelled);
            }
        }
    }

    private static async Task PumpAsync(ChannelReader<JsonRpcMessage> from, ITransport to, CancellationToken cancellationToken)
    {
        await foreach (var message in from.ReadAllAsync(cancellationToken))
        {
            await to.SendMessageAsync(message, cancellationToken);
        }
    }

    private static async Task Ended(Task pump)
    {
        try
        {
            await pump;
        }
        catch (OperationCanceledException)
        {
            // The other direction ended first and cancelled this one.
        }
    }
}
