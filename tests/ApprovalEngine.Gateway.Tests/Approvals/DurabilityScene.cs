using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using Npgsql;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Approvals;

/// <summary>
/// One database, one configuration file and the gateway processes a durability test starts on them, plus a
/// read-only view of the workflows (a runtime of the test's own on the same database, running no worker).
/// The agent "agent" may call the bundle "work"; ops@example.com approves over the HTTP API with a user token.
/// </summary>
internal sealed class DurabilityScene : IAsyncDisposable
{
    public const string Bundle = "work";

    private readonly ServiceProvider services;
    private readonly ITestOutputHelper output;
    private readonly List<GatewayProcess> nodes = [];

    private DurabilityScene(string directory, string configPath, string connectionString, string agentKey, string approverToken, ServiceProvider services, ITestOutputHelper output)
    {
        Directory = directory;
        ConfigPath = configPath;
        ConnectionString = connectionString;
        AgentKey = agentKey;
        ApproverToken = approverToken;
        this.services = services;
        this.output = output;
    }

    public string Directory { get; }

    public string ConfigPath { get; }

    public string ConnectionString { get; }

    public string AgentKey { get; }

    public string ApproverToken { get; }

    public WorkflowRuntime Runtime => services.GetRequiredService<WorkflowRuntime>();

    public NpgsqlDataSource Database => services.GetRequiredService<NpgsqlDataSource>();

    /// <summary>
    /// A scene whose configuration has the upstreams <paramref name="upstreamsYaml"/> writes for the scene's directory
    /// (the body of <c>upstreams:</c>, indented two spaces), all of them in the bundle, and <paramref name="rulesYaml"/>
    /// (indented four spaces) as the policy's rules after a <c>read-only</c> default. Approvals last an hour and hold
    /// the agent's call for a minute.
    /// </summary>
    public static async Task<DurabilityScene> CreateAsync(
        Func<string, string> upstreamsYaml, IEnumerable<string> upstreamNames, string rulesYaml, ITestOutputHelper output)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("ae-durability-").FullName;
        var agentKey = ApiKeys.Generate();
        var approverToken = UserTokens.Generate();
        var configPath = Path.Combine(directory, "gateway.yaml");
        await File.WriteAllTextAsync(configPath, $$"""
            upstreams:
            {{upstreamsYaml(directory)}}
            agents:
              agent:
                owner: owner@example.com
                keys: ["{{ApiKeys.Hash(agentKey)}}"]
            bundles:
              {{Bundle}}:
                upstreams: [{{string.Join(", ", upstreamNames)}}]
                agents: [agent]
            approvers:
              ops:
                members: [ops@example.com]
            users:
              ops@example.com: {roles: [approver], tokens: ["{{UserTokens.Hash(approverToken)}}"]}
            policy:
              default: read-only
              approvers: [ops]
              progressInterval: 200ms
              approval: {timeout: 1h, hold: 60s}
              rules:
            {{rulesYaml}}
            """);

        var connectionString = await TestPostgres.CreateDatabaseAsync("gw_durability");
        var services = new ServiceCollection()
            .AddLogging()
            .AddWorkflowRuntime(connectionString, o => o.RunWorker = false)
            .BuildServiceProvider();
        return new DurabilityScene(directory, configPath, connectionString, agentKey, approverToken, services, output);
    }

    /// <summary>A gateway process on this scene's database and configuration; disposed with the scene.</summary>
    public async Task<GatewayProcess> StartNodeAsync(string name, IReadOnlyDictionary<string, string>? settings, CancellationToken cancellationToken)
    {
        var all = new Dictionary<string, string>(StringComparer.Ordinal) { ["ApprovalEngine:Runtime:PollInterval"] = "00:00:00.200" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        var node = await GatewayProcess.StartAsync(name, ConfigPath, ConnectionString, all, output, cancellationToken);
        lock (nodes)
        {
            nodes.Add(node);
        }

        return node;
    }

    /// <summary>The agent's MCP client (the C# SDK over Streamable HTTP) on <paramref name="node"/>, once it lists <paramref name="tool"/>.</summary>
    public async Task<McpClient> ConnectAsync(GatewayProcess node, string tool, CancellationToken cancellationToken)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(node.McpUrl(Bundle)),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {AgentKey}" },
        });
        var client = await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = "2025-11-25" }, cancellationToken: cancellationToken);
        try
        {
            // The node is ready before its stdio upstreams have listed their tools.
            await EventuallyAsync($"{node.Name} lists {tool}", async () =>
                (await client.ListToolsAsync(cancellationToken: cancellationToken)).Any(t => t.Name == tool) ? true : (bool?)null, cancellationToken);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>The one workflow of the agent whose arguments mention <paramref name="marker"/>, once it exists.</summary>
    public Task<WorkflowSnapshot> WorkflowAsync(string marker, CancellationToken cancellationToken) =>
        EventuallyAsync($"a workflow for the call with '{marker}' exists", async () =>
        {
            var page = await Runtime.QueryAsync(new WorkflowQuery { AgentId = "agent" }, cancellationToken);
            return page.Items.SingleOrDefault(w => w.State.Request.Arguments.GetRawText().Contains(marker, StringComparison.Ordinal));
        }, cancellationToken);

    /// <summary>The workflow once it is in <paramref name="status"/>.</summary>
    public Task<WorkflowSnapshot> StatusAsync(Guid id, ApprovalStatus status, CancellationToken cancellationToken) =>
        EventuallyAsync($"workflow {id} is {status}", async () =>
            await Runtime.GetAsync(id, cancellationToken) is { } w && w.State.Status == status ? w : null, cancellationToken);

    /// <summary>POST /api/approvals/{id}/{decision} on <paramref name="node"/> as the approver.</summary>
    public async Task<(int Status, JsonNode? Body)> DecideAsync(GatewayProcess node, Guid id, string decision)
    {
        using var client = node.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/approvals/{id}/{decision}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApproverToken);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>GET /api/approvals/{id} on <paramref name="node"/> as the approver.</summary>
    public async Task<(int Status, JsonNode? Body)> GetApprovalAsync(GatewayProcess node, Guid id)
    {
        using var client = node.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/approvals/{id}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApproverToken);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>How many workflows were ever started under <paramref name="businessKey"/> (active or released).</summary>
    public async Task<long> WorkflowCountAsync(string businessKey)
    {
        await using var command = Database.CreateCommand("SELECT count(*) FROM wf_instance WHERE business_key = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = businessKey });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The states of the workflow's execute tasks, and the node that last held each one's lease.</summary>
    public async Task<IReadOnlyList<(string State, string? Owner)>> ExecuteTasksAsync(Guid id)
    {
        await using var command = Database.CreateCommand("SELECT state, lease_owner FROM wf_task WHERE wf_id = $1 AND kind = 'execute' ORDER BY id");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync();
        var tasks = new List<(string, string?)>();
        while (await reader.ReadAsync())
        {
            tasks.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
        }

        return tasks;
    }

    public async Task<int> ExecutionsStartedAsync(Guid id) =>
        (await Runtime.GetHistoryAsync(id)).Count(h => h.Type == "execution_started");

    /// <summary>Polls <paramref name="probe"/> until it answers non-null; on timeout fails with the nodes' output.</summary>
    public async Task<T> EventuallyAsync<T>(string what, Func<Task<T?>> probe, CancellationToken cancellationToken)
        where T : class
    {
        while (true)
        {
            try
            {
                if (await probe() is { } found)
                {
                    return found;
                }

                await Task.Delay(50, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Assert.Fail($"Timed out waiting until {what}.\n{DescribeNodes()}");
            }
        }
    }

    public async Task<bool> EventuallyAsync(string what, Func<Task<bool?>> probe, CancellationToken cancellationToken) =>
        await EventuallyAsync(what, async () => await probe() is true ? (object)true : null, cancellationToken) is true;

    public string DescribeNodes()
    {
        lock (nodes)
        {
            return string.Join("\n", nodes.Select(n => n.Describe()));
        }
    }

    public async ValueTask DisposeAsync()
    {
        GatewayProcess[] started;
        lock (nodes)
        {
            started = [.. nodes];
        }

        await Task.WhenAll(started.Select(n => n.DisposeAsync().AsTask()));
        await services.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A killed upstream's file may linger a moment; the OS cleans the temp folder eventually.
        }
    }

    /// <summary>Arguments as the agent sends them, for the SDK's CallToolAsync.</summary>
    public static Dictionary<string, object?> Arguments(params (string Name, object? Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);

    /// <summary>YAML flow-sequence of strings (JSON is valid YAML).</summary>
    public static string YamlList(IEnumerable<string> items) => JsonSerializer.Serialize(items);
}
