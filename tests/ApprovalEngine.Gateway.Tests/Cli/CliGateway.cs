using System.Text.Json;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Cli;

/// <summary>
/// A real gateway for the CLI's tests: the real server-filesystem behind it, writes gated by approval, an approver,
/// an auditor, and an agent whose held calls the CLI decides. Shared by the CLI test classes (one collection).
/// </summary>
public sealed class CliGateway : IAsyncLifetime
{
    public McpGateway Gateway { get; private set; } = null!;

    public string Sandbox { get; private set; } = null!;

    public string ApproverToken { get; } = UserTokens.Generate();

    public string AuditorToken { get; } = UserTokens.Generate();

    /// <summary>Every secret a CLI run could leak; none may appear in its output.</summary>
    public IReadOnlyList<string> Secrets => [ApproverToken, AuditorToken, Gateway.KeyOf("agent")];

    public async Task InitializeAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ae-cli-" + Guid.NewGuid().ToString("N")[..12]);
        Sandbox = Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(Sandbox);
        Gateway = await McpGateway.StartAsync($$"""
            {{GatewayYaml.FilesAgent(Sandbox)}}
            approvers:
              ops:
                members: [ops@example.com]
            users:
              ops@example.com: {roles: [approver], tokens: ["{{UserTokens.Hash(ApproverToken)}}"]}
              audit@example.com: {roles: [auditor], tokens: ["{{UserTokens.Hash(AuditorToken)}}"]}
            policy:
              default: read-only
              approvers: [ops]
              approval: {timeout: 1h, hold: 60s}
              rules:
                - name: editable-writes
                  action: approve
                  reason: approvers may fix what gets written
                  match:
                    tools: [fs__write_file]
                    arguments: [{path: path, glob: "*editable*"}]
                  approval: {allowEdits: true}
                - name: writes-need-approval
                  action: approve
                  reason: every write is seen by a person
                  match: {tools: [fs__write_file]}
            """, directory: directory);
    }

    public string Url => Gateway.BaseUrl;

    public Task<McpClient> ConnectAgentAsync(CancellationToken cancellationToken) =>
        AgentClients.ConnectAsync(Gateway.Url("files"), Gateway.KeyOf("agent"), "fs__write_file", cancellationToken);

    /// <summary>Starts the agent's write of <paramref name="fileName"/> (held for approval) and returns it with its approval's id.</summary>
    public async Task<(Task<CallToolResult> Call, Guid Id, string Path)> HeldWriteAsync(McpClient agent, string fileName, string content, CancellationToken cancellationToken)
    {
        var path = System.IO.Path.Combine(Sandbox, fileName);
        var call = agent.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = path, ["content"] = content }, cancellationToken: cancellationToken).AsTask();
        var runtime = Gateway.Get<WorkflowRuntime>();
        while (true)
        {
            var page = await runtime.QueryAsync(new WorkflowQuery { AgentId = "agent", Status = ApprovalStatus.Pending }, cancellationToken);
            if (page.Items.FirstOrDefault(w => w.State.Request.Arguments.GetRawText().Contains(fileName, StringComparison.Ordinal)) is { } found)
            {
                return (call, found.State.Id, path);
            }

            if (call.IsCompleted)
            {
                throw new InvalidOperationException($"The write of {fileName} finished without an approval: {JsonSerializer.Serialize((await call).Content)}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class CliCollection : ICollectionFixture<CliGateway>
{
    public const string Name = "CLI against a running gateway";
}
