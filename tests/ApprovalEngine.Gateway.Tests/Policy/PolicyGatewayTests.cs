using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Mcp;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Policy;

/// <summary>A gateway in front of the real server-filesystem, with a policy over its real tool annotations.</summary>
public sealed class PolicyGateway : IAsyncLifetime
{
    public const string GithubToken = "ghp_" + "0123456789abcdefghijABCDEFGHIJ012345";

    public McpGateway Gateway { get; private set; } = null!;

    public string AuditorToken { get; } = UserTokens.Generate();

    public string ApproverToken { get; } = UserTokens.Generate();

    public string Sandbox { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ae-policy-" + Guid.NewGuid().ToString("N")[..12]);
        Sandbox = Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(Sandbox);
        await File.WriteAllTextAsync(Path.Combine(Sandbox, "notes.txt"), "just notes");
        await File.WriteAllTextAsync(Path.Combine(Sandbox, "deploy.env"), $"GITHUB_TOKEN={GithubToken}\nREGION=eu\n");
                Gateway = await McpGateway.StartAsync($$"""
            {{GatewayYaml.FilesAgent(Sandbox)}}
            approvers:
              ops:
                members: [ops@example.com]
            users:
              auditor@example.com: {roles: [auditor], tokens: ["{{UserTokens.Hash(AuditorToken)}}"]}
              ops@example.com: {roles: [approver], tokens: ["{{UserTokens.Hash(ApproverToken)}}"]}
            policy:
              default: read-only
              approvers: [ops]
              regexTimeout: 2ms
              approval: {hold: 1s}
              results: {detectors: [secrets], action: redact}
              rules:
                - name: no-moves
                  action: deny
                  reason: files are never moved by agents
                  match: {tools: [fs__move_file]}
                - name: throttle-dirs
                  action: rate_limit
                  limit: {calls: 2, window: 1h}
                  match: {tools: [fs__list_allowed_directories]}
                - name: trial-info
                  action: deny
                  mode: detect
                  reason: trying out a ban on file info
                  match: {tools: [fs__get_file_info]}
                - name: pathological
                  action: deny
                  match:
                    tools: [fs__search_files]
                    arguments: [{path: pattern, matches: "^(a+)+$"}]
            """, directory: directory);
    }

    public Task<McpClient> ConnectAsync(CancellationToken cancellationToken) =>
        AgentClients.ConnectAsync(Gateway.Url("files"), Gateway.KeyOf("agent"), "fs__read_text_file", cancellationToken);

    public Task<ToolCallRecord> LastAuditAsync(string toolName) => Gateway.LastAuditAsync(toolName);

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

public sealed class PolicyGatewayTests(PolicyGateway peers) : IClassFixture<PolicyGateway>
{
    [Fact]
    public async Task CallTool_ReadOnlyDefault_ReadToolsRunAndWriteFileNeedsApproval()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        var target = Path.Combine(peers.Sandbox, "written.txt");

        var read = await client.CallToolAsync("fs__read_text_file", new Dictionary<string, object?> { ["path"] = Path.Combine(peers.Sandbox, "notes.txt") }, cancellationToken: timeout.Token);
        var readAudit = await peers.LastAuditAsync("fs__read_text_file");
        var write = await client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "x" }, cancellationToken: timeout.Token);
        var writeAudit = await peers.LastAuditAsync("fs__write_file");

        // Needing approval is not being denied: the tool stays listed.
        Assert.Contains(tools, t => t.Name == "fs__write_file" && t.ProtocolTool.Annotations?.ReadOnlyHint == false);
        Assert.Contains(tools, t => t.Name == "fs__read_text_file" && t.ProtocolTool.Annotations?.ReadOnlyHint == true);
        Assert.NotEqual(true, read.IsError);
        Assert.Equal("just notes", Assert.IsType<TextContentBlock>(Assert.Single(read.Content)).Text);
        Assert.Equal((ToolCallDecision.Allow, "default", ToolCallOutcome.Ok), (readAudit.Decision, readAudit.Rule, readAudit.Outcome));
        // Held for the (shortened) hold time, then told to call again; nothing ran.
        Assert.True(write.IsError);
        Assert.StartsWith($"Pending approval {writeAudit.ApprovalId}: call again", Assert.IsType<TextContentBlock>(Assert.Single(write.Content)).Text, StringComparison.Ordinal);
        Assert.Equal((ToolCallDecision.Approve, "default", ToolCallOutcome.Pending), (writeAudit.Decision, writeAudit.Rule, writeAudit.Outcome));
        Assert.NotNull(writeAudit.ApprovalId);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task ListTools_DeniedTool_IsHiddenButCallingItAnywayGetsTheReason()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        var source = Path.Combine(peers.Sandbox, "notes.txt");

        var result = await client.CallToolAsync(
            "fs__move_file", new Dictionary<string, object?> { ["source"] = source, ["destination"] = source + ".moved" }, cancellationToken: timeout.Token);
        var audit = await peers.LastAuditAsync("fs__move_file");

        Assert.DoesNotContain(tools, t => t.Name == "fs__move_file");
        Assert.True(result.IsError);
        Assert.Equal(
            "Policy denied 'fs__move_file' (rule 'no-moves'): files are never moved by agents",
            Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        Assert.Equal((ToolCallDecision.Deny, "no-moves", ToolCallOutcome.Denied), (audit.Decision, audit.Rule, audit.Outcome));
        Assert.True(File.Exists(source));
    }

    [Fact]
    public async Task CallTool_OverTheRateLimit_ClearErrorAndAudited()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);

        var results = new List<CallToolResult>();
        for (var i = 0; i < 3; i++)
        {
            results.Add(await client.CallToolAsync("fs__list_allowed_directories", cancellationToken: timeout.Token));
        }

        var audit = await peers.LastAuditAsync("fs__list_allowed_directories");
        Assert.Equal([false, false, true], results.Select(r => r.IsError == true));
        Assert.Matches(
            @"^'fs__list_allowed_directories' was refused: rate limit exceeded: 2 call\(s\) per 1h \(rule 'throttle-dirs'\); retry in \d+ s\.$",
            Assert.IsType<TextContentBlock>(Assert.Single(results[2].Content)).Text);
        Assert.Equal((ToolCallDecision.RateLimit, "throttle-dirs", ToolCallOutcome.RateLimited), (audit.Decision, audit.Rule, audit.Outcome));
    }

    [Fact]
    public async Task CallTool_ShadowRuleMatches_CallGoesThroughAndTheWouldBeDecisionIsAudited()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);

        var result = await client.CallToolAsync("fs__get_file_info", new Dictionary<string, object?> { ["path"] = Path.Combine(peers.Sandbox, "notes.txt") }, cancellationToken: timeout.Token);
        var audit = await peers.LastAuditAsync("fs__get_file_info");
        var shadowed = await peers.Gateway.Get<ToolCallAuditQueries>().QueryAsync(new ToolCallAuditFilter { ShadowDecision = "deny" });
        var verification = await peers.Gateway.Get<ToolCallAuditVerifier>().VerifyAsync().ToListAsync();

        Assert.NotEqual(true, result.IsError);
        Assert.Contains("size", Assert.IsType<TextContentBlock>(result.Content[0]).Text, StringComparison.Ordinal);
        Assert.Equal((ToolCallDecision.Allow, "default", ToolCallOutcome.Ok), (audit.Decision, audit.Rule, audit.Outcome));
        Assert.Equal((ToolCallDecision.Deny, "trial-info"), (audit.ShadowDecision, audit.ShadowRule));
        Assert.Contains(shadowed.Items, e => e.Record.ToolName == "fs__get_file_info");
        Assert.All(verification, v => Assert.True(v.Valid, string.Join("; ", v.Problems)));
    }

    [Fact]
    public async Task CallTool_RegexConditionTimesOut_FailsClosed()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);

        var result = await client.CallToolAsync(
            "fs__search_files",
            new Dictionary<string, object?> { ["path"] = peers.Sandbox, ["pattern"] = new string('a', 20_000) + "!" },
            cancellationToken: timeout.Token);
        var audit = await peers.LastAuditAsync("fs__search_files");

        Assert.True(result.IsError);
        Assert.StartsWith(
            "Policy refused 'fs__search_files': the policy could not be evaluated (a matches condition took longer than 2ms)",
            Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text,
            StringComparison.Ordinal);
        Assert.Equal((ToolCallDecision.Error, null, ToolCallOutcome.Denied), (audit.Decision, audit.Rule, audit.Outcome));
    }

    [Fact]
    public async Task CallTool_ResultHoldsASecret_TheAgentSeesItRedacted()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);

        var result = await client.CallToolAsync("fs__read_text_file", new Dictionary<string, object?> { ["path"] = Path.Combine(peers.Sandbox, "deploy.env") }, cancellationToken: timeout.Token);
        var audit = await peers.LastAuditAsync("fs__read_text_file");

        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
        Assert.Equal("GITHUB_TOKEN=[redacted:secrets.github_token]\nREGION=eu\n", text);
        var structured = Assert.IsType<JsonElement>(result.StructuredContent).GetRawText();
        Assert.Contains("[redacted:secrets.github_token]", structured, StringComparison.Ordinal);
        Assert.DoesNotContain(PolicyGateway.GithubToken, structured, StringComparison.Ordinal);
        Assert.Equal((ToolCallOutcome.ResultRedacted, "detectors found secrets.github_token in the result"), (audit.Outcome, audit.Error));
    }
}

public sealed class PolicyExplainApiTests(PolicyGateway peers) : IClassFixture<PolicyGateway>
{
    [Fact]
    public async Task Explain_Auditor_GetsDecisionRuleAndTheTraceInOrder()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using (await peers.ConnectAsync(timeout.Token))
        {
        }

        var (status, body) = await ExplainAsync(peers.AuditorToken, """
            {"agent": "agent", "tool": "fs__search_files", "arguments": {"path": "/tmp", "pattern": "aaa"}}
            """);

        Assert.Equal(200, status);
        Assert.Equal("deny", body["decision"]!.GetValue<string>());
        Assert.Equal("pathological", body["rule"]!.GetValue<string>());
        Assert.Equal(["no-moves", "throttle-dirs", "trial-info", "pathological"], body["trace"]!.AsArray().Select(t => t!["rule"]!.GetValue<string>()));
        Assert.Equal([false, false, false, true], body["trace"]!.AsArray().Select(t => t!["matched"]!.GetValue<bool>()));
        Assert.Equal(["tool 'fs__search_files' matches none of [fs__list_allowed_directories]"], body["trace"]![1]!["checks"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal("$.pattern matches /^(a+)+$/ on \"aaa\": holds", body["trace"]![3]!["checks"]![1]!.GetValue<string>());
        Assert.True(body["tool"]!["inCatalog"]!.GetValue<bool>());
        Assert.True(body["tool"]!["annotations"]!["readOnlyHint"]!.GetValue<bool>());
        Assert.StartsWith("Rules are evaluated top to bottom.", body["order"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Explain_NoRuleMatches_TheDefaultDecidesAndSaysWhoApproves()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using (await peers.ConnectAsync(timeout.Token))
        {
        }

        var (status, body) = await ExplainAsync(peers.AuditorToken, """{"agent": "agent", "tool": "fs__write_file", "arguments": {"path": "/x", "content": "y"}}""");

        Assert.Equal(200, status);
        Assert.Equal(("approve", "default"), (body["decision"]!.GetValue<string>(), body["rule"]!.GetValue<string>()));
        Assert.Equal(["ops"], body["approval"]!["approvers"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal("default read-only: the tool is not annotated readOnlyHint, so it needs approval", body["reason"]!.GetValue<string>());
        var last = body["trace"]!.AsArray()[^1]!;
        Assert.Equal(("default", 0, "decides: approve"), (last["rule"]!.GetValue<string>(), last["index"]!.GetValue<int>(), last["effect"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("""{"agent": "ghost", "tool": "fs__write_file"}""", 404, "There is no agent 'ghost'.")]
    [InlineData("""{"agent": "agent", "tool": "git__push"}""", 404, "Agent 'agent' has no tool 'git__push'")]
    [InlineData("""{"agent": "agent"}""", 400, "Send a JSON body with \"agent\" and \"tool\"")]
    [InlineData("""{"agent": "agent", "tool": "fs__x", "arguments": [1]}""", 400, "\"arguments\" must be a JSON object.")]
    public async Task Explain_BadRequest_SaysWhatIsWrong(string request, int expectedStatus, string detail)
    {
        var (status, body) = await ExplainAsync(peers.AuditorToken, request);

        Assert.Equal(expectedStatus, status);
        Assert.StartsWith(detail, body["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Explain_ApproverOrAgentKey_IsRefused()
    {
        const string Request = """{"agent": "agent", "tool": "fs__write_file"}""";

        var (approverStatus, _) = await ExplainAsync(peers.ApproverToken, Request);
        var (agentStatus, _) = await ExplainAsync(peers.Gateway.KeyOf("agent"), Request);
        var (anonymousStatus, _) = await ExplainAsync(null, Request);

        Assert.Equal((403, 401, 401), (approverStatus, agentStatus, anonymousStatus));
    }

    private async Task<(int Status, JsonNode Body)> ExplainAsync(string? token, string json)
    {
        using var client = peers.Gateway.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/policy/explain") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!);
    }
}

public sealed class PolicyStartupTests
{
    [Fact]
    public async Task Start_PolicyInvalid_GatewayExitsAndListsEveryErrorBeforeServingAnything()
    {
        var directory = Directory.CreateTempSubdirectory("ae-policy-start-").FullName;
        var config = Path.Combine(directory, "gateway.yaml");
        await File.WriteAllTextAsync(config, """
            upstreams:
              fs: {type: stdio, command: npx}
            policy:
              default: allow
              rules:
                - {action: deny, match: {tools: [fss__write_file]}}
                - {action: allow, match: {arguments: [{path: $.a, matches: "(unclosed"}]}}
            """);

        // The real entry point in its own process: the exit code and the message are what an operator sees.
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "ApprovalEngine.Gateway.dll"), "--config", config, "--urls", "http://127.0.0.1:0" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        Assert.NotEqual(0, process.ExitCode);
        var text = await error + await output;
        Assert.Contains("gateway.yaml:6:", text, StringComparison.Ordinal);
        Assert.Contains("unknown upstream \"fss\"", text, StringComparison.Ordinal);
        Assert.Contains("gateway.yaml:7:", text, StringComparison.Ordinal);
        Assert.Contains("not a valid regular expression", text, StringComparison.Ordinal);
    }
}
