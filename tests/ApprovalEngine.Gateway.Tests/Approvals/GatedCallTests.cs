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
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Approvals;

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

        // The ops group gets no Slack or Teams cards: the workflow scheduled no notify task at any step (the Slack
        // tests show the tasks where a group has a channel).
        Assert.False(pending.Request.Notify);
        await using var notifyTasks = peers.Gateway.Get<NpgsqlDataSource>().CreateCommand("SELECT count(*) FROM wf_task WHERE wf_id = $1 AND kind = 'notify'");
        notifyTasks.Parameters.Add(new NpgsqlParameter { Value = pending.Id });
        Assert.Equal(0L, (long)(await notifyTasks.ExecuteScalarAsync(timeout.Token))!);
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

        // The hold is 1 s: on a loaded machine the retry's hold may end before the approved call has run. Calling
        // again joins the same approval each time (asserted below: one workflow) until the outcome comes.
        for (var retries = 0; result.IsError == true && retries < 20; retries++)
        {
            Assert.Equal(id.ToString(), result.Meta?[GatedCalls.MetaKey]?["id"]?.GetValue<string>());
            result = await client.CallToolAsync("fs__write_file", arguments, cancellationToken: timeout.Token);
        }

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
        // Before the decision the agent is told who was asked; a report that falls after it says the call is running.
        Assert.All(messages.Take(3), m => Assert.StartsWith($"Waiting for approval {pending.Id} from ops (ops@example.com), 0/1 approvals, deadline ", m, StringComparison.Ordinal));
        Assert.All(messages.Skip(3), m => Assert.True(
            m.StartsWith($"Waiting for approval {pending.Id} from ops", StringComparison.Ordinal)
            || m == $"Approval {pending.Id} was approved by ops@example.com; the call is running.", m));
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
        Assert.Equal("Forbidden", body!["title"]!.GetValue<string>());
        Assert.Equal($"ops@example.com is not an approver of approval {start.Workflow.Id}.", body["detail"]!.GetValue<string>());
        Assert.Equal(ApprovalStatus.Pending, (await runtime.GetAsync(start.Workflow.Id, timeout.Token))!.State.Status);
    }

    [Fact]
    public async Task CallTool_ApprovedWithEditedArguments_TheEditedOnesRunAndBothDigestsAreAudited()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "editable.txt");
        var edited = new JsonObject { ["path"] = target, ["content"] = "fixed by the approver" };

        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "rm -rf /" }, cancellationToken: timeout.Token).AsTask();
        var pending = await peers.PendingAsync("editable.txt", timeout.Token);
        var (badStatus, _) = await peers.DecideAsync(pending.Id, "approve", new JsonObject { ["editedArguments"] = edited.DeepClone(), ["editedArgumentsDigest"] = "sha256:0" }.ToJsonString());
        var (status, _) = await peers.DecideAsync(pending.Id, "approve", new JsonObject { ["editedArguments"] = edited.DeepClone() }.ToJsonString());
        var result = await call;
        var audit = await peers.LastAuditAsync("fs__write_file");

        Assert.Equal((400, 200), (badStatus, status));
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("fixed by the approver", await File.ReadAllTextAsync(target, timeout.Token));
        Assert.Equal(pending.Request.ArgumentsDigest, audit.ArgumentsDigest);
        Assert.Equal(ArgumentDigest.Compute(JsonSerializer.SerializeToElement(edited)), audit.ExecutedArgumentsDigest);
        Assert.NotEqual(audit.ArgumentsDigest, audit.ExecutedArgumentsDigest);
    }

    [Fact]
    public async Task CallTool_CoveredByARememberedApproval_RunsWithoutANewApprovalAndTheAuditNamesTheGrant()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var first = Path.Combine(peers.Sandbox, "remember-1.txt");
        var second = Path.Combine(peers.Sandbox, "remember-2.txt");
        var runtime = peers.Gateway.Get<WorkflowRuntime>();

        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = first, ["content"] = "1" }, cancellationToken: timeout.Token).AsTask();
        var pending = await peers.PendingAsync("remember-1.txt", timeout.Token);
        await peers.DecideAsync(pending.Id, "approve");
        await call;
        var granted = await client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = second, ["content"] = "2" }, cancellationToken: timeout.Token);
        var audit = await peers.LastAuditAsync("fs__write_file");
        var workflows = await runtime.QueryAsync(new WorkflowQuery { AgentId = "agent", Tool = "write_file" }, timeout.Token);

        Assert.NotEqual(true, granted.IsError);
        Assert.Equal("2", await File.ReadAllTextAsync(second, timeout.Token));
        Assert.Equal((ToolCallDecision.Grant, "remembered", ToolCallOutcome.Ok, pending.Id), (audit.Decision, audit.Rule, audit.Outcome, audit.ApprovalId));
        Assert.DoesNotContain(workflows.Items, w => w.State.Request.Arguments.GetRawText().Contains("remember-2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CallTool_OutcomeNotCollectedWithinRetention_TheSameCallAsksAgain()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "hold-retention.txt");
        var arguments = new Dictionary<string, object?> { ["path"] = target, ["content"] = "r" };

        var first = await client.CallToolAsync("fs__write_file", arguments, cancellationToken: timeout.Token);
        var firstId = Guid.Parse(first.Meta![GatedCalls.MetaKey]!["id"]!.GetValue<string>());
        await peers.DecideAsync(firstId, "deny", """{"reason": "no"}""");
        await Task.Delay(TimeSpan.FromSeconds(2.5), timeout.Token);
        var again = await client.CallToolAsync("fs__write_file", arguments, cancellationToken: timeout.Token);
        var againId = Guid.Parse(again.Meta![GatedCalls.MetaKey]!["id"]!.GetValue<string>());

        Assert.NotEqual(firstId, againId);
        Assert.Equal("pending", again.Meta![GatedCalls.MetaKey]!["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task CallTool_DecidedWhileNobodyHeldIt_ARetryWithinRetentionCollectsTheOutcomeOnce()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "hold-collect.txt");
        var arguments = new Dictionary<string, object?> { ["path"] = target, ["content"] = "c" };

        var first = await client.CallToolAsync("fs__write_file", arguments, cancellationToken: timeout.Token);
        var id = Guid.Parse(first.Meta![GatedCalls.MetaKey]!["id"]!.GetValue<string>());
        await peers.DecideAsync(id, "deny", """{"reason": "not now"}""");
        var collected = await client.CallToolAsync("fs__write_file", arguments, cancellationToken: timeout.Token);
        var next = await client.CallToolAsync("fs__write_file", arguments, cancellationToken: timeout.Token);

        Assert.Equal($"Approval {id} was denied by ops@example.com: not now", Assert.IsType<TextContentBlock>(Assert.Single(collected.Content)).Text);
        Assert.NotEqual(id.ToString(), next.Meta![GatedCalls.MetaKey]!["id"]!.GetValue<string>());
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task CallTool_TypeScriptClientWithProgress_HeldWithProgressThenApprovedAndTheFileIsWrittenOnce()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using (await peers.ConnectAsync(timeout.Token))
        {
        }

        var target = Path.Combine(peers.Sandbox, "typescript.txt");
        var run = NodePeers.RunClientAsync(TimeSpan.FromSeconds(60),
            "--url", peers.Gateway.Url("files"), "--key", peers.Gateway.KeyOf("agent"),
            "--scenario", "progress", "--tool", "fs__write_file",
            "--args", JsonSerializer.Serialize(new { path = target, content = "from the TypeScript SDK" }));
        var pending = await peers.PendingAsync("typescript.txt", timeout.Token);

        // Progress is sent every 200 ms while held: let a few go out before deciding.
        await Task.Delay(700, timeout.Token);
        var (status, _) = await peers.DecideAsync(pending.Id, "approve");
        var report = JsonNode.Parse((await run).RequireJson().GetRawText())!;
        var history = await peers.Gateway.Get<WorkflowRuntime>().GetHistoryAsync(pending.Id);

        Assert.Equal(200, status);
        Assert.True(report["ok"]!.GetValue<bool>(), report.ToJsonString());
        Assert.NotEqual(true, report["result"]!["isError"]?.GetValue<bool>());
        Assert.Contains("Successfully wrote", report["result"]!["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(report["progress"]!.AsArray().Count >= 2);
        Assert.All(report["progress"]!.AsArray(), p => Assert.StartsWith($"Waiting for approval {pending.Id}", p!["message"]!.GetValue<string>(), StringComparison.Ordinal));
        Assert.Equal("from the TypeScript SDK", await File.ReadAllTextAsync(target, timeout.Token));
        Assert.Equal(1, history.Count(h => h.Type == "execution_started"));
    }

    [Fact]
    public async Task CallTool_TypeScriptClientDeniedOrExpired_NothingRunsAndTheReasonReachesTheAgent()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using (await peers.ConnectAsync(timeout.Token))
        {
        }

        var target = Path.Combine(peers.Sandbox, "typescript-denied.txt");
        var directory = Path.Combine(peers.Sandbox, "typescript-expired");
        string[] Call(string tool, object arguments) =>
            ["--url", peers.Gateway.Url("files"), "--key", peers.Gateway.KeyOf("agent"), "--scenario", "call", "--tool", tool, "--args", JsonSerializer.Serialize(arguments)];
        var denied = NodePeers.RunClientAsync(TimeSpan.FromSeconds(60), Call("fs__write_file", new { path = target, content = "x" }));
        var expired = NodePeers.RunClientAsync(TimeSpan.FromSeconds(60), Call("fs__create_directory", new { path = directory }));
        var pending = await peers.PendingAsync("typescript-denied.txt", timeout.Token);
        await peers.DecideAsync(pending.Id, "deny", """{"reason": "use the staging bucket"}""");
        var deniedReport = JsonNode.Parse((await denied).RequireJson().GetRawText())!;
        var expiredReport = JsonNode.Parse((await expired).RequireJson().GetRawText())!;

        Assert.True(deniedReport["result"]!["isError"]!.GetValue<bool>());
        Assert.Equal($"Approval {pending.Id} was denied by ops@example.com: use the staging bucket", deniedReport["result"]!["content"]![0]!["text"]!.GetValue<string>());
        Assert.True(expiredReport["result"]!["isError"]!.GetValue<bool>());
        Assert.Contains("expired: nobody decided before the deadline", expiredReport["result"]!["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(File.Exists(target));
        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task CallTool_AgentCancelsAndDoesNotReturn_ApprovalIsWithdrawnAfterTheGracePeriod()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "grace-gone.txt");
        using var agentGivesUp = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        var runtime = peers.Gateway.Get<WorkflowRuntime>();

        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "x" }, cancellationToken: agentGivesUp.Token).AsTask();
        var pending = await peers.PendingAsync("grace-gone.txt", timeout.Token);
        await agentGivesUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        var stillOpen = (await runtime.GetAsync(pending.Id, timeout.Token))!.State.Status;
        var withdrawn = await runtime.AwaitAsync(pending.Id, cancellationToken: timeout.Token);

        Assert.Equal(ApprovalStatus.Pending, stillOpen);
        Assert.Equal(ApprovalStatus.Cancelled, withdrawn.State.Status);
        Assert.Equal([ApprovalWaiters.Actor], withdrawn.State.DecidedBy);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task CallTool_AgentCancelsThenRetriesWithinTheGracePeriod_TheRetryJoinsAndGetsTheResult()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "grace-back.txt");
        var arguments = new Dictionary<string, object?> { ["path"] = target, ["content"] = "back" };
        using var agentGivesUp = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);

        var call = client.CallToolAsync("fs__write_file", arguments, cancellationToken: agentGivesUp.Token).AsTask();
        var pending = await peers.PendingAsync("grace-back.txt", timeout.Token);
        await agentGivesUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        var retry = client.CallToolAsync("fs__write_file", arguments, cancellationToken: timeout.Token).AsTask();
        await Task.Delay(TimeSpan.FromSeconds(2.5), timeout.Token);
        var (status, _) = await peers.DecideAsync(pending.Id, "approve");
        var result = await retry;

        Assert.Equal(200, status);
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("back", await File.ReadAllTextAsync(target, timeout.Token));
    }

    private sealed class Progress(ConcurrentQueue<string> messages) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value) => messages.Enqueue(value.Message ?? "");
    }
}
