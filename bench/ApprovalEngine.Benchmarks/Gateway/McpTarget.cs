using System.Net;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>
/// One MCP endpoint under test (the upstream directly, or the gateway) and the client sessions opened on it: each
/// benchmark client is its own MCP session (2025-11-25, with its GET stream), opened once and reused by every segment.
/// </summary>
public sealed class McpTarget : IAsyncDisposable
{
    private const int OpenInParallel = 16;
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string? _bearer;
    private readonly List<McpClient> _clients = [];
    private readonly IReadOnlyDictionary<string, object?> _arguments;
    private long _calls;

    public McpTarget(string name, Uri endpoint, string? bearer, string tool, IReadOnlyDictionary<string, object?> arguments)
    {
        Name = name;
        Tool = tool;
        _endpoint = endpoint;
        _bearer = bearer;
        _arguments = arguments;

        // One pool for all sessions, without limits: every client has a POST in flight and a GET stream open.
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, UseProxy = false, AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public string Name { get; }

    public string Tool { get; }

    /// <summary>Successful tools/call requests so far, warm-ups included (the audit must hold one row for each).</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Opens sessions until there are <paramref name="count"/>.</summary>
    public async Task EnsureClientsAsync(int count, CancellationToken ct)
    {
        while (_clients.Count < count)
        {
            var batch = Math.Min(OpenInParallel, count - _clients.Count);
            _clients.AddRange(await Task.WhenAll(Enumerable.Range(0, batch).Select(_ => OpenAsync(ct))));
        }
    }

    /// <summary>tools/call of the tool; a failed call fails the run, since a benchmark of errors measures nothing.</summary>
    public async Task<bool> CallAsync(int client, CancellationToken ct)
    {
        var result = await _clients[client].CallToolAsync(Tool, _arguments, cancellationToken: ct);
        if (result.IsError == true)
        {
            var text = result.Content.OfType<TextContentBlock>().FirstOrDefault()?.Text;
            throw new InvalidOperationException($"{Name}: {Tool} returned an error: {text}");
        }

        Interlocked.Increment(ref _calls);
        return true;
    }

    /// <summary>
    /// tools/call of the tool with these arguments on session <paramref name="client"/>, the result as it came: a
    /// gated call's refusal is a result too, for the caller to judge. Progress notifications go to <paramref name="progress"/>.
    /// </summary>
    public async Task<CallToolResult> CallToolAsync(
        int client, IReadOnlyDictionary<string, object?> arguments, IProgress<ProgressNotificationValue>? progress, CancellationToken ct) =>
        await _clients[client].CallToolAsync(Tool, arguments, progress, cancellationToken: ct);

    public async Task<bool> PingAsync(int client, CancellationToken ct)
    {
        await _clients[client].PingAsync(cancellationToken: ct);
        return true;
    }

    public async Task<bool> ListToolsAsync(int client, CancellationToken ct)
    {
        await _clients[client].ListToolsAsync(cancellationToken: ct);
        return true;
    }

    /// <summary>Waits until the first session lists <see cref="Tool"/> (the gateway lists an upstream's tools once it has connected).</summary>
    public async Task WaitUntilListedAsync(TimeSpan timeout, CancellationToken ct)
    {
        await EnsureClientsAsync(1, ct);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            while (!(await _clients[0].ListToolsAsync(cancellationToken: deadline.Token)).Any(t => t.Name == Tool))
            {
                await Task.Delay(100, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"{Name} did not list the tool {Tool} within {timeout.TotalSeconds:0} s.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Each dispose ends its session with DELETE, so the servers do not keep them until their idle timeout; bounded,
        // since a server that is already gone or stuck (a failed or cancelled run) must not hold up the stop.
        try
        {
            await Task.WhenAll(_clients.Select(CloseAsync)).WaitAsync(CloseTimeout);
        }
        catch (TimeoutException)
        {
            // Disposing the HttpClient below abandons what is left.
        }

        // Idempotent: a benchmark may close its sessions early and leave the dispose at the end of the scope in place.
        _clients.Clear();
        _http.Dispose();
    }

    private static async Task CloseAsync(McpClient client)
    {
        try
        {
            await client.DisposeAsync();
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The server is already gone: nothing left to close.
        }
    }

    private async Task<McpClient> OpenAsync(CancellationToken ct)
    {
        var headers = new Dictionary<string, string>();
        if (_bearer is not null)
        {
            headers["Authorization"] = $"Bearer {_bearer}";
        }

        var transport = new HttpClientTransport(
            new HttpClientTransportOptions
            {
                Name = Name,
                Endpoint = _endpoint,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = headers,
            },
            _http,
            loggerFactory: null,
            ownsHttpClient: false);

        // A pinned revision: without it the 2.3.1 client first probes server/discover and may wait 5 s for it to fail.
        return await McpClient.CreateAsync(
            transport,
            new McpClientOptions { ProtocolVersion = "2025-11-25", ClientInfo = new Implementation { Name = "approval-engine-bench", Version = "1.0.0" } },
            loggerFactory: null,
            ct);
    }
}
