using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Testing;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>
/// One gateway in front of the npm reference servers (server-everything, server-filesystem, server-memory over
/// stdio) and the fixture server over Streamable HTTP, driven by the official TypeScript SDK client.
/// </summary>
public sealed class ReferenceServersGateway : IAsyncLifetime
{
    public const string AgentSecret = "agent-secret-7f3a";

    public McpGateway Gateway { get; private set; } = null!;

    public FixtureServer Fixture { get; private set; } = null!;

    public string Sandbox { get; private set; } = null!;

    public string Url => Gateway.Url("all");

    public string Key => Gateway.KeyOf("agent");

    public async Task InitializeAsync()
    {
        Fixture = await NodePeers.StartFixtureServerAsync();
        var directory = Path.Combine(Path.GetTempPath(), "ae-ts-" + Guid.NewGuid().ToString("N")[..12]);
        Sandbox = Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(Sandbox);
        var everything = NodePeers.ServerEverythingStdio();
        var filesystem = NodePeers.ServerFilesystem(Sandbox);
        var memory = NodePeers.ServerMemory("unused");
        Gateway = await McpGateway.StartAsync($$"""
            upstreams:
              everything:
                type: stdio
                command: {{everything.FileName}}
                args: {{JsonSerializer.Serialize(everything.Arguments)}}
                cwd: .
              fs:
                type: stdio
                command: {{filesystem.FileName}}
                args: {{JsonSerializer.Serialize(filesystem.Arguments)}}
                cwd: .
              memory:
                type: stdio
                command: {{memory.FileName}}
                args: {{JsonSerializer.Serialize(memory.Arguments)}}
                cwd: .
                env:
                  MEMORY_FILE_PATH: {{Path.Combine(directory, "memory.jsonl")}}
              fixture:
                type: http
                url: {{Fixture.Url}}
                headers:
                  X-Upstream-Level: from-upstream-config
            agents:
              agent:
                owner: owner@example.com
                keys: ["{key:agent}"]
                credentials:
                  fixture:
                    headers:
                      X-Agent-Secret: {{AgentSecret}}
            bundles:
              all:
                upstreams: [everything, fs, memory, fixture]
                agents: [agent]
            """, directory: directory);
        await WaitForToolsAsync("everything__echo", "fs__read_text_file", "memory__read_graph", "fixture__echo_headers");
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Fixture.DisposeAsync();
    }

    public Task<PeerRun> RunAsync(params string[] arguments) =>
        NodePeers.RunClientAsync(TimeSpan.FromSeconds(60), ["--url", Url, "--key", Key, .. arguments]);

    /// <summary>Upstreams connect in the background; wait until each has listed its tools through the gateway.</summary>
    private Task WaitForToolsAsync(params string[] names) => TypeScriptClientTests.WaitUntilListedAsync(RunAsync, names);
}

public sealed class TypeScriptClientTests(ReferenceServersGateway peers) : IClassFixture<ReferenceServersGateway>
{
    /// <summary>Lists tools with the TypeScript client (<paramref name="run"/>) until all of <paramref name="names"/> are there (bounded).</summary>
    internal static async Task WaitUntilListedAsync(Func<string[], Task<PeerRun>> run, params string[] names)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var listing = await run(["--scenario", "list"]);
            var listed = listing.Ok ? ToolNames(Report(listing)) : [];
            if (names.All(listed.Contains))
            {
                return;
            }

            if (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"The gateway did not list {string.Join(", ", names.Except(listed))} within 60 s: {listing.Stdout} {listing.Stderr}");
            }

            await Task.Delay(250);
        }
    }

    public static JsonNode Report(PeerRun run) => JsonNode.Parse(run.RequireJson().GetRawText())!;

    /// <summary>The client's report of a scenario that must succeed; fails the test with the client's output otherwise.</summary>
    public static JsonNode Ok(PeerRun run)
    {
        Assert.True(run.Ok, run.ToString());
        return Report(run);
    }

    public static HashSet<string> ToolNames(JsonNode report) =>
        report["tools"]!.AsArray().Select(tool => tool!["name"]!.GetValue<string>()).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public async Task List_AllUpstreams_NamespacedWithAnnotationsKept()
    {
        var report = Ok(await peers.RunAsync("--scenario", "list"));

        var tools = report["tools"]!.AsArray().ToDictionary(tool => tool!["name"]!.GetValue<string>(), tool => tool!);
        Assert.True(tools["fs__write_file"]["annotations"]?["destructiveHint"]?.GetValue<bool>());
        Assert.True(tools["fs__read_text_file"]["annotations"]?["readOnlyHint"]?.GetValue<bool>());
        Assert.Contains("memory__create_entities", tools.Keys);
        Assert.Contains("everything__get-sum", tools.Keys);
        Assert.Contains("fixture__test_simple_text", tools.Keys);
        Assert.All(tools.Keys, name => Assert.Contains("__", name, StringComparison.Ordinal));
        var prompts = report["prompts"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()).ToList();
        Assert.Contains(prompts, name => name.StartsWith("everything__", StringComparison.Ordinal));
        Assert.Contains(prompts, name => name.StartsWith("fixture__", StringComparison.Ordinal));
        Assert.All(prompts, name => Assert.Matches("^(everything|fs|memory|fixture)__", name));
        Assert.All(report["resources"]!.AsArray(), r => Assert.Matches("^(everything|fs|memory|fixture)__", r!["name"]!.GetValue<string>()));
        Assert.Equal("2025-11-25", report["protocolVersion"]?.GetValue<string>());
    }

    [Fact]
    public async Task Call_EachStdioServer_ReturnsItsResult()
    {
        var sum = Ok(await peers.RunAsync("--scenario", "call", "--tool", "everything__get-sum", "--args", """{"a":2,"b":40}"""));
        var written = Ok(await peers.RunAsync("--scenario", "call", "--tool", "fs__write_file", "--args",
            JsonSerializer.Serialize(new { path = Path.Combine(peers.Sandbox, "note.txt"), content = "through the gateway" })));
        var read = Ok(await peers.RunAsync("--scenario", "call", "--tool", "fs__read_text_file", "--args",
            JsonSerializer.Serialize(new { path = Path.Combine(peers.Sandbox, "note.txt") })));
        var created = Ok(await peers.RunAsync("--scenario", "call", "--tool", "memory__create_entities", "--args",
            """{"entities":[{"name":"gateway","entityType":"service","observations":["proxies MCP"]}]}"""));
        var graph = Ok(await peers.RunAsync("--scenario", "call", "--tool", "memory__read_graph", "--args", "{}"));

        Assert.Contains("42", sum["result"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.NotEqual(true, written["result"]!["isError"]?.GetValue<bool>());
        Assert.Contains("through the gateway", read["result"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.NotEqual(true, created["result"]!["isError"]?.GetValue<bool>());
        Assert.Contains("proxies MCP", graph["result"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("through the gateway", await File.ReadAllTextAsync(Path.Combine(peers.Sandbox, "note.txt")));
    }

    [Fact]
    public async Task Call_HttpUpstream_InjectsCredentialsWithoutShowingThemOrForwardingTheAgentKey()
    {
        var list = await peers.RunAsync("--scenario", "list");
        var call = Ok(await peers.RunAsync("--scenario", "call", "--tool", "fixture__echo_headers", "--args", "{}"));

        var seenUpstream = call["result"]!.ToJsonString();
        Assert.Contains(ReferenceServersGateway.AgentSecret, seenUpstream, StringComparison.Ordinal);
        Assert.Contains("from-upstream-config", seenUpstream, StringComparison.Ordinal);
        Assert.DoesNotContain(peers.Key, seenUpstream, StringComparison.Ordinal);
        Assert.DoesNotContain(ReferenceServersGateway.AgentSecret, list.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Progress_LongRunningOperation_ReachesTheAgentUnderItsToken()
    {
        var report = Ok(await peers.RunAsync("--scenario", "progress", "--tool", "everything__trigger-long-running-operation", "--args", """{"duration":1,"steps":4}"""));

        var progress = report["progress"]!.AsArray();
        Assert.Equal(4, progress.Count);
        Assert.Equal([1.0, 2.0, 3.0, 4.0], progress.Select(p => p!["progress"]!.GetValue<double>()));
        Assert.Contains("completed", report["result"]!.ToJsonString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Cancel_AfterProgress_ReachesTheUpstream()
    {
        var report = Ok(await peers.RunAsync(
            "--scenario", "cancel", "--tool", "fixture__slow", "--args", """{"ms":20000,"steps":40}""", "--after-progress", "2",
            "--then-tool", "fixture__last_cancelled", "--then-args", """{"waitMs":10000}"""));

        Assert.True(report["aborted"]!.GetValue<bool>());
        var upstream = JsonNode.Parse(report["then"]!["result"]!["content"]![0]!["text"]!.GetValue<string>())!;
        Assert.True(upstream["cancelled"]!.GetValue<bool>(), upstream.ToJsonString());
        Assert.True(report["elapsedMs"]!.GetValue<double>() < 15_000);
    }

    [Fact]
    public async Task ListChanged_UpstreamAddsTool_AgentIsNotifiedAndSeesItNamespaced()
    {
        var name = "added_" + Guid.NewGuid().ToString("N")[..8];

        var report = Ok(await peers.RunAsync("--scenario", "list-changed", "--tool", "fixture__add_tool", "--args", JsonSerializer.Serialize(new { name })));

        Assert.True(report["notified"]!.GetValue<bool>());
        Assert.Contains($"fixture__{name}", report["added"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    [Fact]
    public async Task Elicit_UpstreamAsksDuringCall_AgentAnswersThroughTheGateway()
    {
        var report = Ok(await peers.RunAsync(
            "--scenario", "elicit", "--tool", "fixture__test_elicitation", "--args", """{"message":"Who approves?"}""",
            "--answer", """{"username":"ada","email":"ada@example.com"}""", "--action", "accept"));

        Assert.Single(report["requests"]!.AsArray());
        Assert.Contains("Who approves?", report["requests"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("ada@example.com", report["result"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logging_UpstreamLogsDuringCall_AgentReceivesMessages()
    {
        var report = Ok(await peers.RunAsync("--scenario", "logging", "--tool", "fixture__test_tool_with_logging", "--args", "{}", "--level", "debug"));

        Assert.NotEmpty(report["messages"]!.AsArray());
    }

    [Fact]
    public async Task Call_UnknownTool_IsJsonRpcInvalidParams()
    {
        var run = await peers.RunAsync("--scenario", "call", "--tool", "fixture__no_such_tool", "--args", "{}");

        Assert.False(run.Ok);
        Assert.Equal(-32602, Report(run)["error"]!["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Audit_EachCall_IsRecordedBeforeTheAnswerAndFilteredByBundle()
    {
        var marker = "audit-" + Guid.NewGuid().ToString("N")[..8];
        var queries = peers.Gateway.Get<ToolCallAuditQueries>();

        Ok(await peers.RunAsync("--scenario", "call", "--tool", "everything__echo", "--args", JsonSerializer.Serialize(new { message = marker, password = "hunter2-" + marker })));
        var afterCall = await queries.QueryAsync(new ToolCallAuditFilter { Bundle = "all", ToolName = "everything__echo", Limit = 1000 });
        await peers.RunAsync("--scenario", "call", "--tool", "everything__missing", "--args", "{}");
        var rejected = await queries.QueryAsync(new ToolCallAuditFilter { AgentId = "agent", Outcome = ToolCallOutcome.Rejected });
        var otherBundle = await queries.QueryAsync(new ToolCallAuditFilter { Bundle = "elsewhere" });

        var record = Assert.Single(afterCall.Items, e => e.Record.RedactedArguments.Contains(marker, StringComparison.Ordinal)).Record;
        Assert.Equal(("agent", "everything", "echo", ToolCallDecision.Allow, ToolCallOutcome.Ok), (record.AgentId, record.Upstream, record.Tool, record.Decision, record.Outcome));
        Assert.StartsWith("sha256:", record.ArgumentsDigest, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", record.RedactedArguments, StringComparison.Ordinal);
        Assert.NotNull(record.SessionId);
        Assert.Contains(rejected.Items, e => e.Record.ToolName == "everything__missing");
        Assert.Empty(otherBundle.Items);
        var verified = await peers.Gateway.Get<ToolCallAuditVerifier>().VerifyAsync().ToListAsync();
        Assert.All(verified, stream => Assert.True(stream.Valid, stream.ToString()));
    }

    [Theory]
    [InlineData(null, "2026-07-28")]
    [InlineData("2025-11-25", "2025-11-25")]
    public async Task CSharpSdkClient_EitherRevision_ListsAndCalls(string? pinned, string negotiated)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(peers.Url),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {peers.Key}" },
        });
        await using var client = await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = pinned }, cancellationToken: timeout.Token);

        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        var result = await client.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "from C#" }, cancellationToken: timeout.Token);

        Assert.Equal(negotiated, client.NegotiatedProtocolVersion);
        Assert.Contains(tools, tool => tool.Name == "fs__write_file");
        Assert.Contains("from C#", Assert.IsType<TextContentBlock>(result.Content[0]).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stdio_BridgeToTheGateway_ListsAndCalls()
    {
        var gatewayDll = Path.Combine(AppContext.BaseDirectory, "ApprovalEngine.Gateway.dll");
        string[] bridge = ["--stdio-command", "dotnet", "--stdio-args", JsonSerializer.Serialize(new[] { gatewayDll, "stdio", "--url", peers.Url }),
            "--stdio-env", JsonSerializer.Serialize(new Dictionary<string, string> { ["APPROVAL_ENGINE_KEY"] = peers.Key })];

        var list = Ok(await NodePeers.RunClientAsync(TimeSpan.FromSeconds(60), ["--scenario", "list", .. bridge]));
        var call = Ok(await NodePeers.RunClientAsync(TimeSpan.FromSeconds(60), ["--scenario", "call", "--tool", "everything__echo", "--args", """{"message":"over stdio"}""", .. bridge]));

        Assert.Contains("fs__read_text_file", ToolNames(list));
        Assert.Contains("over stdio", call["result"]!.ToJsonString(), StringComparison.Ordinal);
    }
}
