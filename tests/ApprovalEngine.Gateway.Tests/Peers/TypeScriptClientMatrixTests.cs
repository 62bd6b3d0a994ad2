using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Peers;

/// <summary>
/// A gateway in front of server-everything over stdio, run with <c>stdio-recorder.mjs</c> preloaded so the test can
/// read what that real server received and answered, and the fixture server over Streamable HTTP.
/// </summary>
public sealed class RecordedUpstreamsGateway : IAsyncLifetime
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    private string directory = null!;

    public McpGateway Gateway { get; private set; } = null!;

    public FixtureServer Fixture { get; private set; } = null!;

    /// <summary>The JSON-lines file where server-everything's stdin and stdout messages are recorded.</summary>
    public string RecordPath { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Fixture = await NodePeers.StartFixtureServerAsync();
        directory = Path.Combine(Path.GetTempPath(), "ae-matrix-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        RecordPath = Path.Combine(directory, "everything-record.jsonl");
        var everything = NodePeers.ServerEverythingStdio();
        string[] arguments = ["--import", Path.Combine(NodePeers.PeersDirectory, "stdio-recorder.mjs"), .. everything.Arguments];
        Gateway = await McpGateway.StartAsync($$"""
            upstreams:
              everything:
                type: stdio
                command: {{JsonSerializer.Serialize(everything.FileName)}}
                args: {{JsonSerializer.Serialize(arguments)}}
                cwd: .
                env:
                  MCP_RECORD_FILE: {{JsonSerializer.Serialize(RecordPath)}}
              fixture:
                type: http
                url: {{Fixture.Url}}
            agents:
              agent:
                owner: owner@example.com
                keys: ["{key:agent}"]
            bundles:
              all:
                upstreams: [everything, fixture]
                agents: [agent]
            """, directory: directory);

        // server-everything registers its elicitation tool only after initialize (it depends on the gateway's
        // capabilities) and announces it with list_changed; wait until the gateway has re-listed.
        await WaitForToolsAsync("everything__trigger-elicitation-request", "everything__gzip-file-as-resource", "fixture__slow");
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Fixture.DisposeAsync();
    }

    /// <summary>Runs client.mjs against the gateway as the agent.</summary>
    public Task<PeerRun> RunAsync(params string[] arguments) =>
        NodePeers.RunClientAsync(RunTimeout, ["--url", Gateway.Url("all"), "--key", Gateway.KeyOf("agent"), .. arguments]);

    /// <summary>Runs watch-list.mjs against the gateway as the agent.</summary>
    public Task<PeerRun> WatchAsync(params string[] arguments) =>
        NodePeers.RunScriptAsync("watch-list.mjs", ["--url", Gateway.Url("all"), "--key", Gateway.KeyOf("agent"), .. arguments], RunTimeout);

    /// <summary>Every message server-everything has read (<c>in</c>) or written (<c>out</c>) so far, in order.</summary>
    public async Task<IReadOnlyList<(string Direction, JsonObject Message)>> RecordAsync()
    {
        // The recorder appends while we read: share the file, and skip a line still being written.
        await using var stream = new FileStream(RecordPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var records = new List<(string, JsonObject)>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.EndsWith('}') && JsonNode.Parse(line) is JsonObject record)
            {
                records.Add((record["direction"]!.GetValue<string>(), record["message"]!.AsObject()));
            }
        }

        return records;
    }

    private Task WaitForToolsAsync(params string[] names) => TypeScriptClientTests.WaitUntilListedAsync(RunAsync, names);
}

/// <summary>
/// The official TypeScript SDK client through the gateway: the cells of the forwarding matrix that
/// <see cref="TypeScriptClientTests"/> covers for one transport only. There, cancellation, list changes,
/// elicitation and logging go to the HTTP fixture and progress to server-everything over stdio; here the
/// other transport of each. Every test needs the gateway to pass the message on: without it the client sees
/// nothing, or the upstream never learns of the agent's answer or cancellation.
/// </summary>
public sealed class TypeScriptClientMatrixTests(RecordedUpstreamsGateway peers) : IClassFixture<RecordedUpstreamsGateway>
{
    private static readonly TimeSpan RecordTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Progress_HttpUpstream_EachStepReachesTheAgentUnderItsOwnTokenBeforeTheResult()
    {
        var report = TypeScriptClientTests.Ok(await peers.RunAsync("--scenario", "progress", "--tool", "fixture__slow", "--args", """{"ms":400,"steps":4}"""));

        var progress = report["progress"]!.AsArray();
        Assert.Equal([1.0, 2.0, 3.0, 4.0], progress.Select(p => p!["progress"]!.GetValue<double>()));
        Assert.Equal(["step 1 of 4", "step 2 of 4", "step 3 of 4", "step 4 of 4"], progress.Select(p => p!["message"]!.GetValue<string>()));
        // The gateway calls the upstream under a token of its own; the agent must see only the one it sent.
        Assert.Single(report["progressTokens"]!.AsArray());
        Assert.Equal("slow finished 4 steps in 400 ms", report["result"]!["content"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cancel_StdioUpstream_ServerEverythingReceivesCancelledAndNeverAnswers()
    {
        // 37 steps of 100 ms: an argument no other test uses, so the record shows which call is this one.
        var report = TypeScriptClientTests.Ok(await peers.RunAsync(
            "--scenario", "cancel", "--tool", "everything__trigger-long-running-operation", "--args", """{"duration":3.7,"steps":37}""", "--after-progress", "2"));
        Assert.True(report["aborted"]!.GetValue<bool>());

        var call = (await peers.RecordAsync()).Single(r => r.Direction == "in" && IsLongRunningCall(r.Message, steps: 37)).Message;
        var id = call["id"]!.ToJsonString();
        var token = call["params"]!["_meta"]!["progressToken"]!.ToJsonString();
        // server-everything's handler ignores the abort and keeps sleeping; its last progress marks its end. An echo
        // answered after that is a barrier: stdout is ordered, so any answer to the cancelled call would precede it.
        await WaitForRecordAsync(r => r.Direction == "out" && IsProgress(r.Message, token, 37));
        var marker = "barrier-" + Guid.NewGuid().ToString("N")[..8];
        TypeScriptClientTests.Ok(await peers.RunAsync("--scenario", "call", "--tool", "everything__echo", "--args", JsonSerializer.Serialize(new { message = marker })));
        var record = await peers.RecordAsync();

        Assert.Contains(record, r => r.Direction == "in"
            && r.Message["method"]?.GetValue<string>() == "notifications/cancelled"
            && r.Message["params"]?["requestId"]?.ToJsonString() == id);
        Assert.Contains(record, r => r.Direction == "out" && r.Message.ToJsonString().Contains(marker, StringComparison.Ordinal));
        // The TypeScript SDK server drops the answer of a request it was told to cancel.
        Assert.DoesNotContain(record, r => r.Direction == "out" && r.Message["method"] is null && r.Message["id"]?.ToJsonString() == id);
    }

    [Fact]
    public async Task ListChanged_StdioUpstreamAddsResource_AgentIsNotifiedAndListsIt()
    {
        // server-everything cannot be made to change its tool list after start-up (it does so once, right after
        // initialize); registering a session resource changes its resource list whenever asked.
        var name = $"note-{Guid.NewGuid():N}"[..17] + ".txt.gz";

        var report = TypeScriptClientTests.Ok(await peers.WatchAsync(
            "--list", "resources", "--tool", "everything__gzip-file-as-resource",
            "--args", JsonSerializer.Serialize(new { name, data = "data:text/plain;base64,dGhyb3VnaCB0aGUgZ2F0ZXdheQ==" })));

        Assert.True(report["notified"]!.GetValue<bool>());
        var added = Assert.Single(report["added"]!.AsArray());
        Assert.Contains(name, added!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(report["removed"]!.AsArray());
    }

    [Fact]
    public async Task Elicit_StdioUpstream_AgentsAnswerReachesServerEverything()
    {
        var report = TypeScriptClientTests.Ok(await peers.RunAsync(
            "--scenario", "elicit", "--tool", "everything__trigger-elicitation-request", "--args", "{}",
            "--answer", """{"name":"Ada Lovelace","check":true,"email":"ada@example.com"}""", "--action", "accept"));

        var request = Assert.Single(report["requests"]!.AsArray());
        Assert.Equal("Please provide inputs for the following fields:", request!["message"]!.GetValue<string>());
        Assert.Contains("name", request["requestedSchema"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()));
        var result = report["result"]!.ToJsonString();
        Assert.Contains("- Name: Ada Lovelace", result, StringComparison.Ordinal);
        Assert.Contains("- Email: ada@example.com", result, StringComparison.Ordinal);
        Assert.Contains("- Agreed to terms: true", result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logging_StdioUpstream_AgentReceivesServerEverythingsMessage()
    {
        // The toggle sends its first message at once, while its call is in flight; the next ones follow every 5 s.
        var report = TypeScriptClientTests.Ok(await peers.RunAsync("--scenario", "logging", "--tool", "everything__toggle-simulated-logging", "--args", "{}", "--level", "debug"));
        TypeScriptClientTests.Ok(await peers.RunAsync("--scenario", "call", "--tool", "everything__toggle-simulated-logging", "--args", "{}"));

        Assert.Contains("Started simulated", report["result"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.NotEmpty(report["messages"]!.AsArray());
        Assert.All(report["messages"]!.AsArray(), message => Assert.Matches("^[A-Z][a-z]+[- ]level[- ]message", message!["data"]!.GetValue<string>()));
    }

    private static bool IsLongRunningCall(JsonObject message, int steps) =>
        message["method"]?.GetValue<string>() == "tools/call"
        && message["params"]?["name"]?.GetValue<string>() == "trigger-long-running-operation"
        && message["params"]?["arguments"]?["steps"]?.GetValue<double>() == steps;

    private static bool IsProgress(JsonObject message, string token, int progress) =>
        message["method"]?.GetValue<string>() == "notifications/progress"
        && message["params"]?["progressToken"]?.ToJsonString() == token
        && message["params"]?["progress"]?.GetValue<double>() == progress;

    private async Task WaitForRecordAsync(Func<(string Direction, JsonObject Message), bool> match)
    {
        using var deadline = new CancellationTokenSource(RecordTimeout);
        while (!(await peers.RecordAsync()).Any(match))
        {
            await Task.Delay(100, deadline.Token);
        }
    }
}
