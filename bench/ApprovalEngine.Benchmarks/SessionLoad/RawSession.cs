using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ApprovalEngine.Benchmarks.SessionLoad;

/// <summary>What one tools/call came back with: the echoed text, or why not.</summary>
public readonly record struct CallOutcome(bool Ok, string? Error)
{
    public static CallOutcome Success { get; } = new(true, null);

    public static CallOutcome Failed(string error) => new(false, error);
}

/// <summary>
/// One MCP session (protocol 2025-11-25) over Streamable HTTP, spoken as raw JSON-RPC: initialize, then tools/call
/// POSTs carrying the session id, each answered as JSON or as an event stream. No GET stream and no SDK client, so a
/// thousand sessions cost the measuring process little: every call is one request on a pooled connection.
/// </summary>
public sealed class RawSession
{
    public const string ProtocolVersion = "2025-11-25";

    private const string Accept = "application/json, text/event-stream";

    private static readonly string InitializeBody =
        $$$$"""{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"{{{{ProtocolVersion}}}}","capabilities":{},"clientInfo":{"name":"approval-engine-load","version":"1.0.0"}}}""";

    private const string InitializedBody = """{"jsonrpc":"2.0","method":"notifications/initialized"}""";

    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string? _bearer;
    private readonly string _sessionId;
    private long _nextId;

    private RawSession(HttpClient http, Uri endpoint, string? bearer, string sessionId)
    {
        _http = http;
        _endpoint = endpoint;
        _bearer = bearer;
        _sessionId = sessionId;
    }

    /// <summary>A shared client for many sessions: no limit on connections, every call in flight has one of its own.</summary>
    public static HttpClient CreateHttpClient() => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = int.MaxValue,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public static async Task<RawSession> OpenAsync(HttpClient http, Uri endpoint, string? bearer, CancellationToken ct)
    {
        using (var response = await http.SendAsync(Post(endpoint, bearer, null, InitializeBody), ct))
        {
            if (!response.IsSuccessStatusCode || !response.Headers.TryGetValues("Mcp-Session-Id", out var ids))
            {
                throw new InvalidOperationException($"initialize on {endpoint}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
            }

            var session = new RawSession(http, endpoint, bearer, ids.First());
            using var message = await ReadAnswerAsync(response, 0, ct);
            if (!message.RootElement.TryGetProperty("result", out _))
            {
                throw new InvalidOperationException($"initialize on {endpoint} failed: {message.RootElement.GetRawText()}");
            }

            using var initialized = await http.SendAsync(Post(endpoint, bearer, session._sessionId, InitializedBody), ct);
            initialized.EnsureSuccessStatusCode();
            return session;
        }
    }

    /// <summary>tools/call of <paramref name="tool"/> with <c>{"text": text}</c>; it must answer with that text (the echo).</summary>
    public async Task<CallOutcome> CallEchoAsync(string tool, string text, CancellationToken ct)
    {
        var id = Interlocked.Increment(ref _nextId);
        var body = string.Create(CultureInfo.InvariantCulture,
            $$$$"""{"jsonrpc":"2.0","id":{{{{id}}}},"method":"tools/call","params":{"name":"{{{{tool}}}}","arguments":{"text":"{{{{text}}}}"}}}""");
        try
        {
            using var response = await _http.SendAsync(Post(_endpoint, _bearer, _sessionId, body), HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
            {
                return CallOutcome.Failed(string.Create(CultureInfo.InvariantCulture, $"HTTP {(int)response.StatusCode}"));
            }

            using var message = await ReadAnswerAsync(response, id, ct);
            var root = message.RootElement;
            if (root.TryGetProperty("error", out var error))
            {
                return CallOutcome.Failed("JSON-RPC error " + (error.TryGetProperty("code", out var code) ? code.GetRawText() : "?"));
            }

            var result = root.GetProperty("result");
            var isError = result.TryGetProperty("isError", out var flag) && flag.ValueKind == JsonValueKind.True;
            var echoed = result.TryGetProperty("content", out var content) && content.GetArrayLength() > 0 && content[0].TryGetProperty("text", out var t)
                ? t.GetString()
                : null;
            return !isError && echoed == text ? CallOutcome.Success : CallOutcome.Failed(isError ? "isError result" : "unexpected result");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return CallOutcome.Failed(e.GetType().Name);
        }
    }

    /// <summary>DELETE: the server forgets the session now rather than at its idle timeout.</summary>
    public async Task CloseAsync(CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, _endpoint);
        Authorize(request, _bearer, _sessionId);
        using var response = await _http.SendAsync(request, ct);
    }

    private static HttpRequestMessage Post(Uri endpoint, string? bearer, string? session, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Accept", Accept);
        Authorize(request, bearer, session);
        return request;
    }

    private static void Authorize(HttpRequestMessage request, string? bearer, string? session)
    {
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (session is not null)
        {
            request.Headers.Add("Mcp-Session-Id", session);
            request.Headers.Add("MCP-Protocol-Version", ProtocolVersion);
        }
    }

    /// <summary>The JSON-RPC response with <paramref name="id"/>: the body itself, or the event of the stream that carries it.</summary>
    private static async Task<JsonDocument> ReadAnswerAsync(HttpResponseMessage response, long id, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            return JsonDocument.Parse(text);
        }

        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            var message = JsonDocument.Parse(line.AsMemory(5));
            if (message.RootElement.TryGetProperty("id", out var answered) && answered.ValueKind == JsonValueKind.Number && answered.GetInt64() == id)
            {
                return message;
            }

            message.Dispose();
        }

        throw new InvalidOperationException($"No answer to request {id} in the event stream.");
    }
}
