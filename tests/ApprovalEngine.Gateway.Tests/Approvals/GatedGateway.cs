using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Approvals;

/// <summary>A gateway in front of the real server-filesystem whose write tools need a human's approval.</summary>
public sealed class GatedGateway : IAsyncLifetime
{
    public McpGateway Gateway { get; private set; } = null!;

    public string Sandbox { get; private set; } = null!;

    public string ApproverToken { get; } = UserTokens.Generate();

    public async Task InitializeAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ae-gated-" + Guid.NewGuid().ToString("N")[..12]);
        Sandbox = Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(Sandbox);
        var filesystem = NodePeers.ServerFilesystem(Sandbox);
        Gateway = await McpGateway.StartAsync($$"""
            upstreams:
              fs:
                type: stdio
                command: {{filesystem.FileName}}
                args: {{JsonSerializer.Serialize(filesystem.Arguments)}}
                cwd: .
            agents:
              agent:
                owner: owner@example.com
                keys: ["{key:agent}"]
              other:
                owner: owner@example.com
                keys: ["{key:other}"]
            bundles:
              files:
                upstreams: [fs]
                agents: [agent, other]
            approvers:
              ops:
                members: [ops@example.com]
            users:
              ops@example.com: {roles: [approver], tokens: ["{{UserTokens.Hash(ApproverToken)}}"]}
            policy:
              default: read-only
              approvers: [ops]
              progressInterval: 200ms
              resultRetention: 2s
              approval: {timeout: 1h, hold: 60s}
              rules:
                - name: quick-expiry
                  action: approve
                  reason: directories are created rarely
                  match: {tools: [fs__create_directory]}
                  approval: {timeout: 1s}
                - name: short-hold
                  action: approve
                  match:
                    tools: [fs__write_file]
                    arguments: [{path: path, glob: "*hold*"}]
                  approval: {hold: 1s}
                - name: grace
                  action: approve
                  match:
                    tools: [fs__write_file]
                    arguments: [{path: path, glob: "*grace*"}]
                  approval: {withdrawAfter: 1s}
                - name: editable
                  action: approve
                  match:
                    tools: [fs__write_file]
                    arguments: [{path: path, glob: "*editable*"}]
                  approval: {allowEdits: true}
                - name: remembered
                  action: approve
                  match:
                    tools: [fs__write_file]
                    arguments: [{path: path, glob: "*remember*"}]
                  approval:
                    remember: {for: 1h, sameArguments: false}
            """, directory: directory);
    }

    public Task<McpClient> ConnectAsync(CancellationToken cancellationToken) =>
        AgentClients.ConnectAsync(Gateway.Url("files"), Gateway.KeyOf("agent"), "fs__write_file", cancellationToken);

    /// <summary>The pending approval of the agent's call whose arguments mention <paramref name="marker"/>, once it exists.</summary>
    public async Task<ApprovalState> PendingAsync(string marker, CancellationToken cancellationToken)
    {
        var runtime = Gateway.Get<WorkflowRuntime>();
        while (true)
        {
            var page = await runtime.QueryAsync(new WorkflowQuery { AgentId = "agent", Status = ApprovalStatus.Pending }, cancellationToken);
            if (page.Items.FirstOrDefault(w => w.State.Request.Arguments.GetRawText().Contains(marker, StringComparison.Ordinal)) is { } found)
            {
                return found.State;
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    public async Task<(int Status, JsonNode? Body)> DecideAsync(Guid id, string decision, string? body = null)
    {
        using var client = Gateway.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/approvals/{id}/{decision}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApproverToken);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public Task<ToolCallRecord> LastAuditAsync(string toolName) => Gateway.LastAuditAsync(toolName);

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}
