using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Upstreams;
using ApprovalEngine.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>
/// A gateway in front of the real server-memory (upstream <c>memory</c>, over stdio, its graph in a file of this
/// gateway's own), on a manual clock, for tests that must show whether a request changed anything: the graph as
/// <c>read_graph</c> returns it, and the number of tool-call audit records. Bundles: <c>tools</c> (agent
/// <c>alpha</c>, every tool), <c>other</c> (agent <c>beta</c> only) and <c>curated</c> (agent <c>alpha</c>,
/// only <c>read_graph</c> and <c>create_entities</c>).
/// </summary>
public sealed class MemoryGateway : IAsyncLifetime
{
    public const long MaxRequestBodyBytes = 65536;

    private static string Yaml(string memoryFile) => $$"""
        server:
          maxRequestBodyBytes: {{MaxRequestBodyBytes}}
        upstreams:
          memory:
            type: stdio
            command: node
            args: ["{{NodePeers.ServerMemory("unused").Arguments[0]}}"]
            env:
              MEMORY_FILE_PATH: {{JsonSerializer.Serialize(memoryFile)}}
        agents:
          alpha:
            owner: alice@example.com
            keys: ["{key:alpha}"]
          beta:
            owner: bob@example.com
            keys: ["{key:beta}"]
        bundles:
          tools:
            upstreams: [memory]
            agents: [alpha]
          other:
            upstreams: [memory]
            agents: [beta]
          curated:
            upstreams: [memory]
            agents: [alpha]
            tools: ["memory__read_graph", "memory__create_entities"]
        """;

    private int nextId = 100;

    public ManualTimeProvider Clock { get; } = new();

    public McpGateway Gateway { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public string AlphaKey => Gateway.KeyOf("alpha");

    public async Task InitializeAsync()
    {
        // An absolute path: server-memory resolves a relative one against its own folder in node_modules, which every
        // gateway of the test run would then share.
        var directory = Path.Combine(Path.GetTempPath(), "ae-gw-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        Gateway = await McpGateway.StartAsync(Yaml(Path.Combine(directory, "memory.jsonl")), services => services.AddSingleton<TimeProvider>(Clock), directory);
        Client = Gateway.CreateHttpClient();

        // The upstream starts in the background; until it has listed its tools, a call would be an unknown tool.
        var upstreams = Gateway.Get<IUpstreams>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!(upstreams.Catalog.Upstreams.TryGetValue("memory", out var entry) && entry.Tools.Any(t => t.Name == "create_entities")))
        {
            await Task.Delay(50, deadline.Token);
        }
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Gateway.DisposeAsync();
    }

    public Task<string> StartSessionAsync(string bundle = "tools") => RawMcp.StartSessionAsync(Client, Gateway.Url(bundle), AlphaKey);

    /// <summary>A tools/call request (JSON-RPC text) with a fresh id.</summary>
    public string ToolCall(string tool, JsonObject arguments) =>
        RawMcp.Request(Interlocked.Increment(ref nextId), "tools/call", new JsonObject { ["name"] = tool, ["arguments"] = arguments }.ToJsonString());

    /// <summary>Arguments of <c>create_entities</c> that would add the entity <paramref name="name"/>, padded to about <paramref name="size"/> bytes.</summary>
    public static JsonObject NewEntity(string name, int size = 0) => new()
    {
        ["entities"] = new JsonArray(new JsonObject
        {
            ["name"] = name,
            ["entityType"] = "probe",
            ["observations"] = new JsonArray(size > 0 ? new string('x', size) : "created by a test"),
        }),
    };

    /// <summary>Calls a tool of the bundle in <paramref name="session"/> as alpha and returns the JSON-RPC answer.</summary>
    public async Task<JsonObject> CallAsync(string session, string tool, JsonObject arguments, string bundle = "tools")
    {
        using var response = await Client.SendAsync(RawMcp.Post(Gateway.Url(bundle), AlphaKey, ToolCall(tool, arguments), session: session, protocolVersion: "2025-11-25"));
        return await RawMcp.MessageAsync(response);
    }

    /// <summary>The whole memory graph, as server-memory's read_graph returns it (through a session of its own).</summary>
    public async Task<JsonElement> ReadGraphAsync()
    {
        var session = await StartSessionAsync();
        var answer = await CallAsync(session, "memory__read_graph", []);
        var text = answer["result"]?["content"]?[0]?["text"]?.GetValue<string>()
            ?? throw new InvalidOperationException($"read_graph failed: {answer.ToJsonString()}");
        return RawMcp.Parse(text);
    }

    public static IReadOnlyList<string> EntityNames(JsonElement graph) =>
        [.. graph.GetProperty("entities").EnumerateArray().Select(e => e.GetProperty("name").GetString()!)];

    public async Task<long> AuditCountAsync(string? outcome = null, string? toolName = null)
    {
        await using var connection = new NpgsqlConnection(Gateway.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM tool_call_audit WHERE ($1::text IS NULL OR outcome = $1) AND ($2::text IS NULL OR tool_name = $2)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)outcome ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)toolName ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
