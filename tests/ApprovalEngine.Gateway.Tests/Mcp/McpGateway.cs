using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>
/// A real gateway on a loopback port with a configuration file of the test's own, over a fresh database.
/// Keys for the agents named in <c>{key:agent}</c> placeholders are generated and their hashes put in the file.
/// </summary>
public sealed class McpGateway : IAsyncDisposable
{
    private readonly GatewayFactory factory;
    private readonly Dictionary<string, string> keys;

    private McpGateway(GatewayFactory factory, string directory, string configPath, string connectionString, Dictionary<string, string> keys)
    {
        this.factory = factory;
        Directory = directory;
        ConfigPath = configPath;
        ConnectionString = connectionString;
        this.keys = keys;
        BaseUrl = factory.ClientOptions.BaseAddress.ToString().TrimEnd('/');
    }

    public string Directory { get; }

    public string ConfigPath { get; }

    public string ConnectionString { get; }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string BaseUrl { get; }

    public IServiceProvider Services => factory.Services;

    /// <param name="sameDatabaseAs">Another node of the same deployment: this one shares its database and agent keys.</param>
    /// <param name="settings">Host configuration settings (the keys environment variables would set).</param>
    public static async Task<McpGateway> StartAsync(
        string yaml, Action<IServiceCollection>? services = null, string? directory = null, McpGateway? sameDatabaseAs = null, IEnumerable<(string Key, string? Value)>? settings = null)
    {
        directory ??= Path.Combine(Path.GetTempPath(), "ae-gw-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var keys = sameDatabaseAs is null ? new Dictionary<string, string>(StringComparer.Ordinal) : new Dictionary<string, string>(sameDatabaseAs.keys, StringComparer.Ordinal);
        var configPath = Path.Combine(directory, "gateway.yaml");
        await File.WriteAllTextAsync(configPath, WithKeys(yaml, keys));
        var connectionString = sameDatabaseAs?.ConnectionString ?? await TestPostgres.CreateDatabaseAsync("gw_mcp");
        var factory = GatewayFactory.ForDatabase(connectionString, services, [("ApprovalEngine:Config", configPath), .. settings ?? []]);

        factory.UseKestrel(0);
        factory.StartServer();
        return new McpGateway(factory, directory, configPath, connectionString, keys);
    }

    /// <summary>Replaces <c>{key:agent}</c> with the hash of a new key for that agent (one key per agent and name).</summary>
    public static string WithKeys(string yaml, Dictionary<string, string> keys)
    {
        var text = new StringBuilder(yaml);
        foreach (System.Text.RegularExpressions.Match match in System.Text.RegularExpressions.Regex.Matches(yaml, @"\{key:([A-Za-z0-9_.-]+)\}"))
        {
            var name = match.Groups[1].Value;
            if (!keys.TryGetValue(name, out var key))
            {
                keys[name] = key = ApiKeys.Generate();
            }

            text.Replace(match.Value, ApiKeys.Hash(key));
        }

        return text.ToString();
    }

    public string KeyOf(string name) => keys[name];

    public string Url(string? bundle = null) => bundle is null ? $"{BaseUrl}/mcp" : $"{BaseUrl}/mcp/{bundle}";

    /// <summary>The newest audit record of calls to <paramref name="toolName"/> (as the agent named it).</summary>
    public async Task<Gateway.Audit.ToolCallRecord> LastAuditAsync(string toolName)
    {
        var page = await Get<Gateway.Audit.ToolCallAuditQueries>().QueryAsync(new Gateway.Audit.ToolCallAuditFilter { ToolName = toolName, Limit = 1 });
        return Xunit.Assert.Single(page.Items).Record;
    }

    public T Get<T>()
        where T : notnull => factory.Services.GetRequiredService<T>();

    /// <summary>A client that speaks HTTP to the gateway; MCP headers are up to the test.</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = new Uri(BaseUrl + "/"), Timeout = TimeSpan.FromSeconds(60) };

    public async ValueTask DisposeAsync()
    {
        await factory.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A child process may still hold a file for a moment; the temp folder is cleaned by the OS eventually.
        }
    }
}

/// <summary>Raw MCP over HTTP, for the tests that must control every header and byte.</summary>
public static class RawMcp
{
    public const string Accept = "application/json, text/event-stream";

    public static HttpRequestMessage Post(string url, string? key, string body, string accept = Accept, string contentType = "application/json", string? session = null, string? protocolVersion = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TryAddWithoutValidation("Accept", accept);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        if (session is not null)
        {
            request.Headers.Add("Mcp-Session-Id", session);
        }

        if (protocolVersion is not null)
        {
            request.Headers.Add("MCP-Protocol-Version", protocolVersion);
        }

        return request;
    }

    public static string Initialize(int id = 1, string version = "2025-11-25") =>
        Request(id, "initialize", "{\"protocolVersion\":\"" + version + "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"raw-test\",\"version\":\"1\"}}");

    public static string Request(int id, string method, string paramsJson = "{}") =>
        $$$"""{"jsonrpc":"2.0","id":{{{id}}},"method":"{{{method}}}","params":{{{paramsJson}}}}""";

    public const string Initialized = """{"jsonrpc":"2.0","method":"notifications/initialized"}""";

    /// <summary>The JSON-RPC message of a response: the body itself (JSON), or the last <c>data:</c> event of an SSE stream.</summary>
    public static async Task<JsonObject> MessageAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            var data = text.Split('\n').Where(line => line.StartsWith("data:", StringComparison.Ordinal)).Select(line => line[5..].Trim()).LastOrDefault()
                ?? throw new InvalidOperationException($"No data event in the stream: {text}");
            text = data;
        }

        return JsonNode.Parse(text)?.AsObject() ?? throw new InvalidOperationException($"Not a JSON object: {text}");
    }

    /// <summary>Initializes a 2025-11-25 session and returns its id.</summary>
    public static async Task<string> StartSessionAsync(HttpClient client, string url, string key)
    {
        using var response = await client.SendAsync(Post(url, key, Initialize()));
        response.EnsureSuccessStatusCode();
        var session = response.Headers.GetValues("Mcp-Session-Id").Single();
        var message = await MessageAsync(response);
        if (message["result"] is null)
        {
            throw new InvalidOperationException($"initialize failed: {message.ToJsonString()}");
        }

        using var initialized = await client.SendAsync(Post(url, key, Initialized, session: session, protocolVersion: "2025-11-25"));
        initialized.EnsureSuccessStatusCode();
        return session;
    }

    public static int ErrorCode(JsonObject message) => message["error"]!["code"]!.GetValue<int>();

    public static string ErrorMessage(JsonObject message) => message["error"]!["message"]!.GetValue<string>();

    public static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
