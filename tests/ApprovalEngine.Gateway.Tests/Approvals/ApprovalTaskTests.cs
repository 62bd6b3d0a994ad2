using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Tests.Approvals;

/// <summary>
/// MCP tasks (2025-11-25) over raw HTTP: a task-augmented call of a gated tool is answered at once with the approval
/// as its task, and tasks/get, tasks/result and tasks/cancel follow the approval.
/// </summary>
public sealed class ApprovalTaskTests(GatedGateway peers) : IClassFixture<GatedGateway>
{
    [Fact]
    public async Task TaskCall_GatedTool_AnswersAtOnceWithTheApprovalAsAWorkingTask()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var agent = await TaskSession.StartAsync(peers.Gateway, "agent");
        var target = Path.Combine(peers.Sandbox, "task-approved.txt");

        var created = await agent.CallWithTaskAsync("fs__write_file", new JsonObject { ["path"] = target, ["content"] = "from a task" });
        var task = created["result"]!["task"]!;
        var taskId = task["taskId"]!.GetValue<string>();
        var pending = await peers.PendingAsync("task-approved.txt", timeout.Token);
        var before = await agent.SendAsync("tasks/get", new JsonObject { ["taskId"] = taskId });
        var writtenBeforeApproval = File.Exists(target);
        var (status, _) = await peers.DecideAsync(pending.Id, "approve");
        var result = await agent.SendAsync("tasks/result", new JsonObject { ["taskId"] = taskId });
        var after = await agent.SendAsync("tasks/get", new JsonObject { ["taskId"] = taskId });
        var history = await peers.Gateway.Get<WorkflowRuntime>().GetHistoryAsync(pending.Id);
        var audit = await peers.LastAuditAsync("fs__write_file");

        Assert.Equal(pending.Id.ToString(), taskId);
        Assert.Equal("working", task["status"]!.GetValue<string>());
        Assert.Equal(200, task["pollInterval"]!.GetValue<long>());
        Assert.True(task.AsObject().ContainsKey("ttl") && task["ttl"] is null, "an approval task is kept: ttl null (unlimited)");
        Assert.NotNull(task["createdAt"]);
        Assert.StartsWith($"Waiting for approval {taskId} from ops", created["result"]!["_meta"]!["io.modelcontextprotocol/model-immediate-response"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.EndsWith($"/console/approvals/{taskId}", created["result"]!["_meta"]![GatedCalls.MetaKey]!["console"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("working", before["result"]!["status"]!.GetValue<string>());
        Assert.StartsWith($"Waiting for approval {pending.Id} from ops (ops@example.com), 0/1 approvals, deadline ", before["result"]!["statusMessage"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(writtenBeforeApproval);
        Assert.Equal(200, status);
        Assert.NotEqual(true, result["result"]!["isError"]?.GetValue<bool>());
        Assert.Contains("Successfully wrote", result["result"]!["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(taskId, result["result"]!["_meta"]!["io.modelcontextprotocol/related-task"]!["taskId"]!.GetValue<string>());
        Assert.Equal("completed", after["result"]!["status"]!.GetValue<string>());
        Assert.Equal("from a task", await File.ReadAllTextAsync(target, timeout.Token));
        Assert.Equal(1, history.Count(h => h.Type == "execution_started"));
        Assert.Equal((ToolCallDecision.Approve, ToolCallOutcome.Pending, pending.Id), (audit.Decision, audit.Outcome, audit.ApprovalId));
    }

    [Fact]
    public async Task TaskCall_TypeScriptSdkClient_GetsTheTaskAtOnceThenTheUpstreamResultAfterApproval()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var target = Path.Combine(peers.Sandbox, "task-typescript.txt");
        var arguments = new JsonObject { ["path"] = target, ["content"] = "written once" }.ToJsonString();

        var client = NodePeers.RunClientAsync(
            TimeSpan.FromSeconds(60),
            "--scenario", "task-call", "--url", peers.Gateway.Url("files"), "--key", peers.Gateway.KeyOf("agent"),
            "--tool", "fs__write_file", "--args", arguments, "--task-ttl", "120000", "--settle-ms", "5000");
        var pending = await peers.PendingAsync("task-typescript.txt", timeout.Token);
        var writtenBeforeApproval = File.Exists(target);
        var (status, _) = await peers.DecideAsync(pending.Id, "approve");
        var report = TypeScriptClientTests.Ok(await client);
        var history = await peers.Gateway.Get<WorkflowRuntime>().GetHistoryAsync(pending.Id, timeout.Token);

        Assert.False(writtenBeforeApproval);
        Assert.Equal(200, status);
        Assert.Equal("optional", report["execution"]!["taskSupport"]!.GetValue<string>());
        Assert.Equal(pending.Id.ToString(), report["created"]!["taskId"]!.GetValue<string>());
        Assert.Equal("working", report["created"]!["status"]!.GetValue<string>());
        Assert.True(report["createdAfterMs"]!.GetValue<long>() < 10_000, "the call is not held for the approval");
        Assert.Equal("working", report["statuses"]![0]!["status"]!.GetValue<string>());
        Assert.Equal("completed", report["statuses"]!.AsArray()[^1]!["status"]!.GetValue<string>());
        Assert.Contains("Successfully wrote", report["result"]!["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(pending.Id.ToString(), report["result"]!["_meta"]!["io.modelcontextprotocol/related-task"]!["taskId"]!.GetValue<string>());
        Assert.Contains(report["statusNotifications"]!.AsArray(), n => n!["status"]!.GetValue<string>() == "completed");
        Assert.Equal("written once", await File.ReadAllTextAsync(target, timeout.Token));
        Assert.Equal(1, history.Count(h => h.Type == "execution_started"));
    }

    [Fact]
    public async Task TaskCancel_PendingApproval_WithdrawsItAndNothingRuns()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var agent = await TaskSession.StartAsync(peers.Gateway, "agent");
        var target = Path.Combine(peers.Sandbox, "task-cancelled.txt");
        var runtime = peers.Gateway.Get<WorkflowRuntime>();

        var created = await agent.CallWithTaskAsync("fs__write_file", new JsonObject { ["path"] = target, ["content"] = "never" });
        var taskId = created["result"]!["task"]!["taskId"]!.GetValue<string>();
        var cancel = await agent.SendAsync("tasks/cancel", new JsonObject { ["taskId"] = taskId });
        var state = (await runtime.GetAsync(Guid.Parse(taskId), timeout.Token))!.State;
        var result = await agent.SendAsync("tasks/result", new JsonObject { ["taskId"] = taskId });
        var again = await agent.SendAsync("tasks/cancel", new JsonObject { ["taskId"] = taskId });
        var (approveStatus, _) = await peers.DecideAsync(state.Id, "approve");

        var expected = $"Approval {taskId} was withdrawn by agent:agent: the agent cancelled the task";
        Assert.Equal("cancelled", cancel["result"]!["status"]!.GetValue<string>());
        Assert.Equal(expected, cancel["result"]!["statusMessage"]!.GetValue<string>());
        Assert.Equal(ApprovalStatus.Cancelled, state.Status);
        Assert.Equal(["agent:agent"], state.DecidedBy);
        Assert.True(result["result"]!["isError"]!.GetValue<bool>());
        Assert.Equal(expected, result["result"]!["content"]![0]!["text"]!.GetValue<string>());
        Assert.Equal(-32602, RawMcp.ErrorCode(again));
        Assert.Equal("Cannot cancel task: already in terminal status 'cancelled'.", RawMcp.ErrorMessage(again));
        Assert.Equal(409, approveStatus);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task TaskResult_Denied_FailedTaskAndTheRefusalNamesWhoAndWhy()
    {
        using var agent = await TaskSession.StartAsync(peers.Gateway, "agent");
        var target = Path.Combine(peers.Sandbox, "task-denied.txt");

        var created = await agent.CallWithTaskAsync("fs__write_file", new JsonObject { ["path"] = target, ["content"] = "no" });
        var taskId = created["result"]!["task"]!["taskId"]!.GetValue<string>();
        var result = agent.SendAsync("tasks/result", new JsonObject { ["taskId"] = taskId });
        var (status, _) = await peers.DecideAsync(Guid.Parse(taskId), "deny", """{"reason": "not on a Friday"}""");
        var refusal = await result;
        var get = await agent.SendAsync("tasks/get", new JsonObject { ["taskId"] = taskId });

        var expected = $"Approval {taskId} was denied by ops@example.com: not on a Friday";
        Assert.Equal(200, status);
        Assert.True(refusal["result"]!["isError"]!.GetValue<bool>());
        Assert.Equal(expected, refusal["result"]!["content"]![0]!["text"]!.GetValue<string>());
        Assert.Equal("failed", get["result"]!["status"]!.GetValue<string>());
        Assert.Equal(expected, get["result"]!["statusMessage"]!.GetValue<string>());
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task TaskMethods_AnotherAgent_AreRefusedLikeAnUnknownTask()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var agent = await TaskSession.StartAsync(peers.Gateway, "agent");
        using var other = await TaskSession.StartAsync(peers.Gateway, "other");
        var target = Path.Combine(peers.Sandbox, "task-foreign.txt");
        var runtime = peers.Gateway.Get<WorkflowRuntime>();

        var created = await agent.CallWithTaskAsync("fs__write_file", new JsonObject { ["path"] = target, ["content"] = "mine" });
        var taskId = created["result"]!["task"]!["taskId"]!.GetValue<string>();
        var get = await other.SendAsync("tasks/get", new JsonObject { ["taskId"] = taskId });
        var result = await other.SendAsync("tasks/result", new JsonObject { ["taskId"] = taskId });
        var cancel = await other.SendAsync("tasks/cancel", new JsonObject { ["taskId"] = taskId });
        var unknownId = Guid.NewGuid().ToString();
        var unknown = await other.SendAsync("tasks/get", new JsonObject { ["taskId"] = unknownId });
        var state = (await runtime.GetAsync(Guid.Parse(taskId), timeout.Token))!.State;
        var owner = await agent.SendAsync("tasks/get", new JsonObject { ["taskId"] = taskId });
        await agent.SendAsync("tasks/cancel", new JsonObject { ["taskId"] = taskId });

        Assert.All([get, result, cancel, unknown], m => Assert.Equal(-32602, RawMcp.ErrorCode(m)));
        Assert.Equal($"Failed to retrieve task: task '{taskId}' not found.", RawMcp.ErrorMessage(get));
        Assert.Equal($"Failed to retrieve task: task '{unknownId}' not found.", RawMcp.ErrorMessage(unknown));
        Assert.Equal(ApprovalStatus.Pending, state.Status);
        Assert.Equal("working", owner["result"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task TaskCall_AllowedTool_RunsAtOnceAndIsAFinishedTask()
    {
        using var agent = await TaskSession.StartAsync(peers.Gateway, "agent");
        using var other = await TaskSession.StartAsync(peers.Gateway, "other");
        var source = Path.Combine(peers.Sandbox, "task-read.txt");
        await File.WriteAllTextAsync(source, "read through a task");

        var created = await agent.CallWithTaskAsync("fs__read_text_file", new JsonObject { ["path"] = source }, ttlMs: 30_000);
        var task = created["result"]!["task"]!;
        var taskId = task["taskId"]!.GetValue<string>();
        var get = await agent.SendAsync("tasks/get", new JsonObject { ["taskId"] = taskId });
        var result = await agent.SendAsync("tasks/result", new JsonObject { ["taskId"] = taskId });
        var cancel = await agent.SendAsync("tasks/cancel", new JsonObject { ["taskId"] = taskId });
        var foreign = await other.SendAsync("tasks/result", new JsonObject { ["taskId"] = taskId });

        Assert.Equal("completed", task["status"]!.GetValue<string>());
        Assert.Equal(30_000, task["ttl"]!.GetValue<long>());
        Assert.StartsWith("call-", taskId, StringComparison.Ordinal);
        Assert.Equal("completed", get["result"]!["status"]!.GetValue<string>());
        Assert.Equal("read through a task", result["result"]!["content"]![0]!["text"]!.GetValue<string>());
        Assert.Equal(taskId, result["result"]!["_meta"]!["io.modelcontextprotocol/related-task"]!["taskId"]!.GetValue<string>());
        Assert.Equal(-32602, RawMcp.ErrorCode(cancel));
        Assert.Equal(-32602, RawMcp.ErrorCode(foreign));
    }

    [Fact]
    public async Task TaskCall_SessionWithAGetStream_HearsStatusNotificationsUntilCompleted()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var agent = await TaskSession.StartAsync(peers.Gateway, "agent");
        var target = Path.Combine(peers.Sandbox, "task-notified.txt");
        var statuses = new List<JsonNode>();

        using var events = await agent.OpenEventStreamAsync(timeout.Token);
        var created = await agent.CallWithTaskAsync("fs__write_file", new JsonObject { ["path"] = target, ["content"] = "n" });
        var taskId = created["result"]!["task"]!["taskId"]!.GetValue<string>();
        await peers.DecideAsync(Guid.Parse(taskId), "approve");
        await foreach (var message in events.ReadAllAsync(timeout.Token))
        {
            if (message["method"]?.GetValue<string>() == "notifications/tasks/status")
            {
                statuses.Add(message["params"]!);
                if (message["params"]!["status"]!.GetValue<string>() == "completed")
                {
                    break;
                }
            }
        }

        Assert.All(statuses, s => Assert.Equal(taskId, s["taskId"]!.GetValue<string>()));
        Assert.All(statuses, s => Assert.Null(s["_meta"]));
        Assert.Equal("completed", statuses[^1]["status"]!.GetValue<string>());
        Assert.Equal($"Approval {taskId} was approved by ops@example.com; the call completed.", statuses[^1]["statusMessage"]!.GetValue<string>());
    }

    [Fact]
    public async Task Initialize_2025_11_25_AdvertisesTasksAndEveryToolAcceptsThem()
    {
        using var agent = await TaskSession.StartAsync(peers.Gateway, "agent");

        var tools = await agent.SendAsync("tools/list", []);
        var list = await agent.SendAsync("tasks/list", []);

        Assert.Equal(-32601, RawMcp.ErrorCode(list));
        Assert.Equal(
            """{"cancel":{},"requests":{"tools":{"call":{}}}}""",
            agent.Initialize["result"]!["capabilities"]!["tasks"]!.ToJsonString());
        Assert.NotEmpty(tools["result"]!["tools"]!.AsArray());
        Assert.All(tools["result"]!["tools"]!.AsArray(), t => Assert.Equal("optional", t!["execution"]!["taskSupport"]!.GetValue<string>()));
    }

    [Fact]
    public async Task TaskCall_OlderRevision_NoTasksAdvertisedAndTheTaskFieldIsIgnored()
    {
        using var agent = await TaskSession.StartAsync(peers.Gateway, "agent", version: "2025-06-18");
        var source = Path.Combine(peers.Sandbox, "task-old.txt");
        await File.WriteAllTextAsync(source, "plain result");

        var tools = await agent.SendAsync("tools/list", []);
        var call = await agent.CallWithTaskAsync("fs__read_text_file", new JsonObject { ["path"] = source });

        Assert.Null(agent.Initialize["result"]!["capabilities"]!["tasks"]);
        Assert.All(tools["result"]!["tools"]!.AsArray(), t => Assert.Null(t!["execution"]));
        Assert.Null(call["result"]!["task"]);
        Assert.Equal("plain result", call["result"]!["content"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task TaskCall_StatelessRevision_TheTaskFieldIsIgnored()
    {
        using var ready = await TaskSession.StartAsync(peers.Gateway, "agent");
        using var client = peers.Gateway.CreateHttpClient();
        var source = Path.Combine(peers.Sandbox, "task-stateless.txt");
        await File.WriteAllTextAsync(source, "no session, no task");
        var parameters = new JsonObject
        {
            ["name"] = "fs__read_text_file",
            ["arguments"] = new JsonObject { ["path"] = source },
            ["task"] = new JsonObject { ["ttl"] = 60_000 },
            ["_meta"] = JsonNode.Parse("""{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}"""),
        };

        using var response = await client.SendAsync(RawMcp.Post(
            peers.Gateway.Url("files"), peers.Gateway.KeyOf("agent"), RawMcp.Request(1, "tools/call", parameters.ToJsonString()), protocolVersion: "2026-07-28"));
        var call = await RawMcp.MessageAsync(response);

        Assert.Null(call["result"]!["task"]);
        Assert.Equal("no session, no task", call["result"]!["content"]![0]!["text"]!.GetValue<string>());
    }
}
