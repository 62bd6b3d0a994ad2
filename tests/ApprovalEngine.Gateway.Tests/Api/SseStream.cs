using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Tests.Mcp;

namespace ApprovalEngine.Gateway.Tests.Api;

/// <summary>A client of <c>GET /api/approvals/stream</c> that reads server-sent events as they come.</summary>
public sealed class SseStream : IAsyncDisposable
{
    private readonly HttpClient client;
    private readonly HttpResponseMessage response;
    private readonly StreamReader reader;

    private SseStream(HttpClient client, HttpResponseMessage response, StreamReader reader)
    {
        this.client = client;
        this.response = response;
        this.reader = reader;
    }

    public HttpResponseMessage Response => response;

    public static async Task<SseStream> OpenAsync(McpGateway node, string token, CancellationToken cancellationToken)
    {
        var client = new HttpClient { BaseAddress = new Uri(node.BaseUrl + "/"), Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/approvals/stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        return new SseStream(client, response, new StreamReader(stream, Encoding.UTF8));
    }

    /// <summary>The next event (or, with <paramref name="comments"/>, the next comment as event ":" without data); null when the server ended the stream.</summary>
    public async Task<(string Event, JsonNode? Data)?> NextAsync(CancellationToken cancellationToken, bool comments = false)
    {
        string? name = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (name is not null)
                {
                    return (name, JsonNode.Parse(data.ToString())!);
                }

                continue;
            }

            if (line.StartsWith(':'))
            {
                if (comments)
                {
                    return (":", null);
                }
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Append(line["data: ".Length..]);
            }
        }

        return null;
    }

    /// <summary>Reads events until one matches; fails when the stream ends first.</summary>
    public async Task<JsonNode> UntilAsync(string eventName, Func<JsonNode, bool> match, CancellationToken cancellationToken)
    {
        while (true)
        {
            var next = await NextAsync(cancellationToken) ?? throw new EndOfStreamException($"The stream ended before a matching '{eventName}' event.");
            if (next.Event == eventName && match(next.Data!))
            {
                return next.Data!;
            }
        }
    }

    /// <summary>Reads until a comment line (<c>: keepalive</c>); fails when the stream ends first.</summary>
    public async Task UntilCommentAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var next = await NextAsync(cancellationToken, comments: true) ?? throw new EndOfStreamException("The stream ended before a comment.");
            if (next.Event == ":")
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        reader.Dispose();
        response.Dispose();
        client.Dispose();
        await Task.CompletedTask;
    }
}
