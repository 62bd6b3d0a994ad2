using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Tests.Mcp;

namespace ApprovalEngine.Gateway.Tests.Approvals;

/// <summary>A 2025-11-25 session of one agent, spoken to in raw JSON-RPC over HTTP.</summary>
internal sealed class TaskSession : IDisposable
{
    private readonly HttpClient client;
    private readonly string url;
    private readonly string key;
    private readonly string version;
    private int nextId = 10;

    private TaskSession(HttpClient client, string url, string key, string session, string version, JsonObject initialize)
    {
        this.version = version;
        this.client = client;
        this.url = url;
        this.key = key;
        Session = session;
        Initialize = initialize;
    }

    public string Session { get; }

    /// <summary>The initialize response.</summary>
    public JsonObject Initialize { get; }

    /// <summary>A session once the gateway lists <c>fs__write_file</c> (upstreams connect in the background).</summary>
    public static async Task<TaskSession> StartAsync(McpGateway gateway, string agent, string bundle = "files", string version = "2025-11-25")
    {
        var session = await StartSessionAsync(gateway, agent, bundle, version);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!(await session.SendAsync("tools/list", []))["result"]!["tools"]!.AsArray().Any(t => t!["name"]!.GetValue<string>() == "fs__write_file"))
        {
            await Task.Delay(100, deadline.Token);
        }

        return session;
    }

    private static async Task<TaskSession> StartSessionAsync(McpGateway gateway, string agent, string bundle, string version)
    {
        var client = gateway.CreateHttpClient();
        var url = gateway.Url(bundle);
        var key = gateway.KeyOf(agent);
        using var response = await client.SendAsync(RawMcp.Post(url, key, RawMcp.Initialize(version: version)));
        response.EnsureSuccessStatusCode();
        var session = response.Headers.GetValues("Mcp-Session-Id").Single();
        var initialize = await RawMcp.MessageAsync(response);
        using var initialized = await client.SendAsync(RawMcp.Post(url, key, RawMcp.Initialized, session: session, protocolVersion: version));
        initialized.EnsureSuccessStatusCode();
        return new TaskSession(client, url, key, session, version, initialize);
    }

    public async Task<JsonObject> SendAsync(string method, JsonObject parameters)
    {
        var id = Interlocked.Increment(ref nextId);
        using var response = await client.SendAsync(RawMcp.Post(url, key, RawMcp.Request(id, method, parameters.ToJsonString()), session: Session, protocolVersion: version));
        return await RawMcp.MessageAsync(response);
    }

    /// <summary>Opens the session's GET stream; its messages arrive in the returned channel until it is disposed.</summary>
    public async Task<EventStream> OpenEventStreamAsync(CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("Accept", "text/event-stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        request.Headers.Add("Mcp-Session-Id", Session);
        request.Headers.Add("MCP-Protocol-Version", version);

        // Headers first: once they arrive the stream is registered, so nothing sent after this returns is missed.
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        return new EventStream(request, response);
    }

    public Task<JsonObject> CallWithTaskAsync(string tool, JsonObject arguments, long? ttlMs = 60_000) =>
        SendAsync("tools/call", new JsonObject
        {
            ["name"] = tool,
            ["arguments"] = arguments,
            ["task"] = ttlMs is { } ttl ? new JsonObject { ["ttl"] = ttl } : new JsonObject(),
        });

    public void Dispose() => client.Dispose();
}

/// <summary>The JSON-RPC messages of an SSE response, in order.</summary>
internal sealed class EventStream(HttpRequestMessage request, HttpResponseMessage response) : IDisposable
{
    public async IAsyncEnumerable<JsonObject> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.StartsWith("data:", StringComparison.Ordinal) && JsonNode.Parse(line[5..].Trim()) is JsonObject message)
            {
                yield return message;
            }
        }
    }

    public void Dispose()
    {
        response.Dispose();
        request.Dispose();
    }
}
