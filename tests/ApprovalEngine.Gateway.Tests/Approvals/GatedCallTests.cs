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
            """, directory: directory);
    }

    public async Task<McpClient> ConnectAsync(CancellationToken cancellationToken)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(Gateway.Url("files")),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {Gateway.KeyOf("agent")}" },
        });
        var client = await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = "2025-11-25" }, cancellationToken: cancellationToken);
        while ((await client.ListToolsAsync(cancellationToken: cancellationToken)).All(t => t.Name != "fs__write_file"))
        {
            await Task.Delay(100, cancellationToken);
        }

        return client;
    }

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

    public async Task<ToolCallRecord> LastAuditAsync(string toolName)
    {
        var page = await Gateway.Get<ToolCallAuditQueries>().QueryAsync(new ToolCallAuditFilter { ToolName = toolName, Limit = 1 });
        return Assert.Single(page.Items).Record;
    }

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

public sealed class GatedCallTests(GatedGateway peers) : IClassFixture<GatedGateway>
{
    [Fact]
    public async Task CallTool_Approved_RunsOnceAndTheAgentGetsTheUpstreamResult()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "approved.txt");

        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "approved content" }, cancellationToken: timeout.Token).AsTask();
        var pending = await peers.PendingAsync("approved.txt", timeout.Token);
        var writtenBeforeApproval = File.Exists(target);
        var (status, body) = await peers.DecideAsync(pending.Id, "approve");
        var result = await call;
        var audit = await peers.LastAuditAsync("fs__write_file");
        var history = await peers.Gateway.Get<WorkflowRuntime>().GetHistoryAsync(pending.Id);

        Assert.False(writtenBeforeApproval);
        Assert.Equal(200, status);
        Assert.Equal("Approved", body!["status"]!.GetValue<string>());
        Assert.NotEqual(true, result.IsError);
        Assert.Contains("Successfully wrote", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text, StringComparison.Ordinal);
        Assert.Equal("approved content", await File.ReadAllTextAsync(target, timeout.Token));
        Assert.Equal(1, history.Count(h => h.Type == "execution_started"));
        Assert.Equal((ToolCallDecision.Approve, "default", ToolCallOutcome.Ok, pending.Id), (audit.Decision, audit.Rule, audit.Outcome, audit.ApprovalId));
        Assert.Equal("owner@example.com", pending.Request.AgentOwner);
        Assert.Equal(["ops@example.com"], pending.Request.Approvers.Approvers);
    }

    [Fact]
    public async Task CallTool_Denied_NothingRunsAndTheReasonReachesTheAgent()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "denied.txt");

        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        var pending = await peers.PendingAsync("denied.txt", timeout.Token);
        var (status, _) = await peers.DecideAsync(pending.Id, "deny", """{"reason": "not on a Friday"}""");
        var result = await call;
        var audit = await peers.LastAuditAsync("fs__write_file");

        Assert.Equal(200, status);
        Assert.True(result.IsError);
        Assert.Equal(
            $"Approval {pending.Id} was denied by ops@example.com: not on a Friday",
            Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        Assert.False(File.Exists(target));
        Assert.Equal((ToolCallDecision.Approve, ToolCallOutcome.Denied, pending.Id), (audit.Decision, audit.Outcome, audit.ApprovalId));
    }

    [Fact]
    public async Task CallTool_NobodyDecides_ExpiresWithThatReason()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "expired-dir");

        var result = await client.CallToolAsync("fs__create_directory", new Dictionary<string, object?> { ["path"] = target }, cancellationToken: timeout.Token);

        Assert.True(result.IsError);
        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
        Assert.Matches(@"^Approval [0-9a-f-]{36} expired: nobody decided before the deadline", text);
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public async Task CallTool_HoldTimeEnds_PendingResultThenARetryJoinsTheSameApproval()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "hold.txt");
        var arguments = new Dictionary<string, object?> { ["path"] = target, ["content"] = "held" };
        var runtime = peers.Gateway.Get<WorkflowRuntime>();

        var first = await client.CallToolAsync("fs__write_file", arguments, cancellationToken: timeout.Token);
        var meta = first.Meta![GatedCalls.MetaKey]!;
        var id = Guid.Parse(meta["id"]!.GetValue<string>());
        var second = client.CallToolAsync("fs__write_file", arguments, cancellationToken: timeout.Token).AsTask();
        await Task.Delay(300, timeout.Token);
        var (status, _) = await peers.DecideAsync(id, "approve");
        var result = await second;
        var workflows = await runtime.QueryAsync(new WorkflowQuery { AgentId = "agent", Tool = "write_file" }, timeout.Token);

        Assert.True(first.IsError);
        Assert.StartsWith($"Pending approval {id}: call again with the same arguments to get the outcome.", Assert.IsType<TextContentBlock>(Assert.Single(first.Content)).Text, StringComparison.Ordinal);
        Assert.Equal("pending", meta["state"]!.GetValue<string>());
        Assert.EndsWith($"/console/approvals/{id}", meta["console"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(DateTimeOffset.Parse(meta["deadline"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(50));
        Assert.Equal(200, status);
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("held", await File.ReadAllTextAsync(target, timeout.Token));
        Assert.Single(workflows.Items, w => w.State.Request.Arguments.GetRawText().Contains("hold.txt", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CallTool_WithProgressToken_ProgressArrivesWhileHeld()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "progress.txt");
        var messages = new ConcurrentQueue<string>();

        var call = client.CallToolAsync(
            "fs__write_file",
            new Dictionary<string, object?> { ["path"] = target, ["content"] = "p" },
            new Progress(messages),
            cancellationToken: timeout.Token).AsTask();
        var pending = await peers.PendingAsync("progress.txt", timeout.Token);
        while (messages.Count < 3)
        {
            await Task.Delay(50, timeout.Token);
        }

        await peers.DecideAsync(pending.Id, "approve");
        var result = await call;

        Assert.NotEqual(true, result.IsError);
        Assert.All(messages, m => Assert.StartsWith($"Waiting for approval {pending.Id} from ops (ops@example.com), 0/1 approvals, deadline ", m, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Approve_NotAnApproverOfThisCall_IsRefused()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var runtime = peers.Gateway.Get<WorkflowRuntime>();
        var start = await runtime.StartAsync("test-other-approvers", new ApprovalRequest
        {
            AgentId = "agent",
            Bundle = "files",
            Upstream = "fs",
            Tool = "write_file",
            Arguments = JsonSerializer.SerializeToElement(new { path = "/x" }),
            ArgumentsDigest = "sha256:00",
            Approvers = new ApproverStage { Group = "security", Approvers = ["sec@example.com"], Timeout = TimeSpan.FromHours(1) },
        }, timeout.Token);

        var (status, body) = await peers.DecideAsync(start.Workflow.Id, "approve");

        Assert.Equal(403, status);
        Assert.Equal("NotAuthorized", body!["title"]!.GetValue<string>());
        Assert.Equal(ApprovalStatus.Pending, (await runtime.GetAsync(start.Workflow.Id, timeout.Token))!.State.Status);
    }

    private sealed class Progress(ConcurrentQueue<string> messages) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value) => messages.Enqueue(value.Message ?? "");
    }
}
