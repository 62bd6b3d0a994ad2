using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Mcp;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Api;

/// <summary>
/// A real gateway in front of the real server-filesystem, whose writes need approval by the ops group (or, for paths
/// with "others" in them, by the others group), with one user per role: approvers (ops, other, and the agent's owner,
/// who is in ops too), an auditor and an admin. Calls are held only briefly, so a call leaves its approval pending.
/// </summary>
public sealed class ApiGateway : IAsyncLifetime
{
    public const string Ops = "ops@example.com";
    public const string Other = "other@example.com";
    public const string Owner = "owner@example.com";
    public const string Auditor = "audit@example.com";
    public const string Admin = "admin@example.com";
    public const string PublicUrl = "https://gw.example.com";

    private readonly Dictionary<string, string> tokens = new(StringComparer.Ordinal);
    private McpClient? agent;

    public McpGateway Gateway { get; private set; } = null!;

    public string Sandbox { get; private set; } = null!;

    /// <summary>Test settings for the approval stream (re-read interval, buffer); null keeps the defaults.</summary>
    public Action<ApprovalStreamOptions>? Stream { get; init; }

    public string TokenOf(string email) => tokens[email];

    public async Task InitializeAsync()
    {
        Gateway = await StartNodeAsync(null);
    }

    /// <summary>A node with this fixture's configuration; <paramref name="sameDatabaseAs"/> makes it another node of the same deployment.</summary>
    public async Task<McpGateway> StartNodeAsync(McpGateway? sameDatabaseAs, Action<ApprovalStreamOptions>? stream = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ae-api-" + Guid.NewGuid().ToString("N")[..12]);
        Sandbox ??= Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(Sandbox);
        foreach (var email in new[] { Ops, Other, Owner, Auditor, Admin })
        {
            if (!tokens.ContainsKey(email))
            {
                tokens[email] = UserTokens.Generate();
            }
        }

        var settings = stream ?? Stream;
        return await McpGateway.StartAsync($$"""
            server:
              publicUrl: {{PublicUrl}}
            {{GatewayYaml.FilesAgent(Sandbox, Owner)}}
            approvers:
              ops:
                members: [{{Ops}}, {{Owner}}]
              others:
                members: [{{Other}}]
            users:
              {{Ops}}: {roles: [approver], tokens: ["{{UserTokens.Hash(tokens[Ops])}}"]}
              {{Other}}: {roles: [approver], tokens: ["{{UserTokens.Hash(tokens[Other])}}"]}
              {{Owner}}: {roles: [approver], tokens: ["{{UserTokens.Hash(tokens[Owner])}}"]}
              {{Auditor}}: {roles: [auditor], tokens: ["{{UserTokens.Hash(tokens[Auditor])}}"]}
              {{Admin}}: {roles: [admin], tokens: ["{{UserTokens.Hash(tokens[Admin])}}"]}
            policy:
              default: read-only
              approvers: [ops]
              approval: {timeout: 1h, hold: 200ms}
              rules:
                - name: others-decide
                  action: approve
                  reason: the others look after these
                  match:
                    tools: [fs__write_file]
                    arguments: [{path: path, glob: "*others*"}]
                  approval: {approvers: [others], hold: 200ms}
            """,
            services: settings is null ? null : s => s.Configure(settings),
            directory: directory,
            sameDatabaseAs: sameDatabaseAs);
    }

    /// <summary>
    /// A gated call through the agent's real MCP client: writes <paramref name="marker"/>.txt in the sandbox. The call
    /// is held briefly and answered "pending"; returns the approval's id.
    /// </summary>
    public async Task<Guid> RequestAsync(string marker, CancellationToken cancellationToken, McpGateway? node = null)
    {
        McpClient client;
        if (node is null)
        {
            client = agent ??= await AgentClients.ConnectAsync(Gateway.Url("files"), Gateway.KeyOf("agent"), "fs__write_file", cancellationToken);
        }
        else
        {
            client = await AgentClients.ConnectAsync(node.Url("files"), node.KeyOf("agent"), "fs__write_file", cancellationToken);
        }

        try
        {
            var result = await client.CallToolAsync(
                "fs__write_file", new Dictionary<string, object?> { ["path"] = Path.Combine(Sandbox, marker + ".txt"), ["content"] = marker }, cancellationToken: cancellationToken);
            var meta = result.Meta?[GatedCalls.MetaKey] ?? throw new InvalidOperationException($"The call was not gated: {JsonSerializer.Serialize(result)}");
            return Guid.Parse(meta["id"]!.GetValue<string>());
        }
        finally
        {
            if (node is not null)
            {
                await client.DisposeAsync();
            }
        }
    }

    public HttpClient Client() => Gateway.CreateHttpClient();

    /// <summary>Sends a request as <paramref name="email"/> (a user of the fixture), or with <paramref name="token"/> as given.</summary>
    public async Task<(int Status, JsonNode? Body, string Text)> SendAsync(HttpMethod method, string path, string? email, string? body = null, string? token = null, McpGateway? node = null)
    {
        using var client = (node ?? Gateway).CreateHttpClient();
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        var bearer = token ?? (email is null ? null : tokens[email]);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        if (text.Length > 0 && response.Content.Headers.ContentType?.MediaType is "application/json" or "application/problem+json")
        {
            json = JsonNode.Parse(text);
        }

        return ((int)response.StatusCode, json, text);
    }

    public Task<(int Status, JsonNode? Body, string Text)> GetAsync(string path, string? email) => SendAsync(HttpMethod.Get, path, email);

    public Task<(int Status, JsonNode? Body, string Text)> PostAsync(string path, string? email, string? body = null) => SendAsync(HttpMethod.Post, path, email, body);

    /// <summary>The refusals recorded for <paramref name="path"/>, oldest first: "reason|status|method|email|detail".</summary>
    public async Task<IReadOnlyList<string>> RefusalsAsync(string path)
    {
        await using var connection = new NpgsqlConnection(Gateway.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT reason, status, method, email, detail FROM human_refusal WHERE path = $1 ORDER BY id", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = path });
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(string.Join('|', reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.IsDBNull(3) ? "-" : reader.GetString(3), reader.IsDBNull(4) ? "-" : reader.GetString(4)));
        }

        return rows;
    }

    public async Task DisposeAsync()
    {
        if (agent is not null)
        {
            await agent.DisposeAsync();
        }

        await Gateway.DisposeAsync();
    }
}
