using System.Text.Json;
using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Tests.Approvals;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>
/// Tests that judge processes machine-wide (what a gateway leaves behind, what a gateway's start sweeps) run alone:
/// a gateway started by a parallel test would sweep the leftovers a test is looking at.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessesAlone
{
    public const string Name = "processes alone";
}

/// <summary>
/// Real gateway processes over one database with stdio upstreams built from the fixture server: "tree" runs it behind
/// a launcher (launcher -> server, like npx -> node), "fx" directly, "memory" is server-memory. The agent "plain" uses
/// the shared connections; "alice" has credentials for tree and fx, so the gateway starts processes of her own for them.
/// Every tool is allowed.
/// </summary>
internal sealed class ProcessScene : IAsyncDisposable
{
    public const string Bundle = "work";

    private readonly List<GatewayProcess> gateways = [];
    private readonly ITestOutputHelper output;

    private ProcessScene(string directory, string connectionString, string plainKey, string aliceKey, ITestOutputHelper output)
    {
        Directory = directory;
        ConnectionString = connectionString;
        PlainKey = plainKey;
        AliceKey = aliceKey;
        this.output = output;
    }

    public string Directory { get; }

    public string ConnectionString { get; }

    public string PlainKey { get; }

    public string AliceKey { get; }

    public static async Task<ProcessScene> CreateAsync(ITestOutputHelper output)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("ae-processes-").FullName;
        var scene = new ProcessScene(directory, await TestPostgres.CreateDatabaseAsync("gw_processes"), ApiKeys.Generate(), ApiKeys.Generate(), output);
        return scene;
    }

    /// <summary>Writes a configuration named <paramref name="name"/> (its upstreams' processes tell gateways apart in messages) and starts a gateway on it.</summary>
    public async Task<GatewayProcess> StartAsync(string name, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Directory, name);
        System.IO.Directory.CreateDirectory(folder);
        var config = Path.Combine(folder, "gateway.yaml");
        if (!File.Exists(config))
        {
            await File.WriteAllTextAsync(config, Yaml(folder), cancellationToken);
        }

        var gateway = await GatewayProcess.StartAsync(name, config, ConnectionString, null, output, cancellationToken);
        gateways.Add(gateway);
        return gateway;
    }

    /// <summary>The agent's client on <paramref name="gateway"/>, once every upstream's tools are listed.</summary>
    public static async Task<McpClient> ConnectAsync(GatewayProcess gateway, string key, CancellationToken cancellationToken)
    {
        var client = await AgentClients.ConnectAsync(gateway.McpUrl(Bundle), key, "tree__spawn-child", cancellationToken);
        while ((await client.ListToolsAsync(cancellationToken: cancellationToken)) is var tools
            && !(tools.Any(t => t.Name == "fx__pid") && tools.Any(t => t.Name == "memory__read_graph")))
        {
            await Task.Delay(100, cancellationToken);
        }

        return client;
    }

    /// <summary>The fixture's "pid" answer: the server's pid and its parent's.</summary>
    public static async Task<(int Pid, int Parent)> PidAsync(McpClient client, string upstream, CancellationToken cancellationToken)
    {
        var json = JsonDocument.Parse(Text(await client.CallToolAsync($"{upstream}__pid", cancellationToken: cancellationToken))).RootElement;
        return (json.GetProperty("pid").GetInt32(), json.GetProperty("ppid").GetInt32());
    }

    /// <summary>Has the fixture start a long-lived child of its own; returns its pid.</summary>
    public static async Task<int> SpawnChildAsync(McpClient client, string upstream, CancellationToken cancellationToken) =>
        int.Parse(Text(await client.CallToolAsync($"{upstream}__spawn-child", cancellationToken: cancellationToken)), System.Globalization.CultureInfo.InvariantCulture);

    public static string Text(CallToolResult result)
    {
        Assert.True(result.IsError != true, $"the call failed: {string.Join("\n", result.Content.OfType<TextContentBlock>().Select(b => b.Text))}");
        return string.Join("\n", result.Content.OfType<TextContentBlock>().Select(b => b.Text));
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(gateways.Select(g => g.DisposeAsync().AsTask()));
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A killed server's file may linger a moment; the OS cleans the temp folder eventually.
        }
    }

    private string Yaml(string folder)
    {
        string List(params string[] items) => JsonSerializer.Serialize(items);
        return $$"""
            upstreams:
              tree:
                type: stdio
                command: node
                args: {{List(Peers.Launcher, "node", Peers.Fixture, "stdio")}}
              fx:
                type: stdio
                command: node
                args: {{List(Peers.Fixture, "stdio")}}
              memory:
                type: stdio
                command: node
                args: {{List(Peers.ServerMemory)}}
                env:
                  MEMORY_FILE_PATH: {{JsonSerializer.Serialize(Path.Combine(folder, "memory.jsonl"))}}
            agents:
              plain:
                owner: plain@example.com
                keys: ["{{ApiKeys.Hash(PlainKey)}}"]
              alice:
                owner: alice@example.com
                keys: ["{{ApiKeys.Hash(AliceKey)}}"]
                credentials:
                  tree:
                    env: {SERVICE_TOKEN: alice-token}
                  fx:
                    env: {SERVICE_TOKEN: alice-token}
            bundles:
              {{Bundle}}:
                upstreams: [tree, fx, memory]
                agents: [plain, alice]
            policy:
              default: allow
            """;
    }
}
