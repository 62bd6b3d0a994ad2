using System.Diagnostics;
using System.Globalization;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Approvals;

/// <summary>
/// Gated calls across real gateway processes on one database: a node killed with SIGKILL while a call waits for its
/// approval or while the approved call runs, and a decision taken on another node than the one holding the call.
/// </summary>
public sealed class DurabilityTests(ITestOutputHelper output)
{
    // Each test takes 5-10 s on an idle machine; the bound leaves room for a loaded one (two node starts, JIT, node).
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(90);

    // Short leases so that a dead node's execute task is settled within seconds; heartbeats run every third of it.
    private static readonly TimeSpan Lease = TimeSpan.FromMilliseconds(1500);

    [Fact]
    public async Task CallTool_NodeKilledWhilePending_ApprovalOnARestartedNodeRunsTheCallOnceAndTheRetryGetsTheResult()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        await using var scene = await FilesystemSceneAsync();
        var target = Path.Combine(scene.Directory, "sandbox", "pending.txt");
        var arguments = DurabilityScene.Arguments(("path", target), ("content", "written once"));

        var a = await scene.StartNodeAsync("A", null, ct);
        WorkflowSnapshot pending;
        await using (var client = await scene.ConnectAsync(a, "fs__write_file", ct))
        {
            var held = client.CallToolAsync("fs__write_file", arguments, cancellationToken: ct).AsTask();
            pending = await scene.WorkflowAsync("pending.txt", ct);
            a.Kill();
            await AssertLostAsync(held, a);
        }

        var b = await scene.StartNodeAsync("B", null, ct);
        var (getStatus, beforeDecision) = await scene.GetApprovalAsync(b, pending.Id);
        var (status, decision) = await scene.DecideAsync(b, pending.Id, "approve");
        await using var retryClient = await scene.ConnectAsync(b, "fs__write_file", ct);
        var result = await retryClient.CallToolAsync("fs__write_file", arguments, cancellationToken: ct);

        Assert.Equal((200, "pending"), (getStatus, beforeDecision!["status"]!.GetValue<string>()));
        Assert.Equal((200, "Approved"), (status, decision!["status"]!.GetValue<string>()));
        Assert.NotEqual(true, result.IsError);
        Assert.Contains("Successfully wrote", Text(result), StringComparison.Ordinal);
        Assert.Equal("written once", await File.ReadAllTextAsync(target, ct));
        Assert.Equal(1, await scene.ExecutionsStartedAsync(pending.Id));
        Assert.Equal(1, await scene.WorkflowCountAsync(pending.BusinessKey));
        Assert.Equal(ApprovalStatus.Completed, (await scene.Runtime.GetAsync(pending.Id, ct))!.State.Status);
    }

    [Fact]
    public async Task CallTool_NodeKilledDuringANonIdempotentCall_EndsInDoubtAndIsNeverRunAgain()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        await using var scene = await FixtureSceneAsync();
        var log = Path.Combine(scene.Directory, "slow-write.log");
        var arguments = DurabilityScene.Arguments(("path", log), ("line", "ran"), ("ms", 30_000));
        var settings = new Dictionary<string, string>
        {
            ["ApprovalEngine:Runtime:LeaseDuration"] = Lease.ToString("c", CultureInfo.InvariantCulture),
            ["ApprovalEngine:Runtime:ReaperInterval"] = "00:00:00.250",
        };

        var a = await scene.StartNodeAsync("A", settings, ct);
        Guid id;
        await using (var client = await scene.ConnectAsync(a, "fx__slow-write", ct))
        {
            var held = client.CallToolAsync("fx__slow-write", arguments, cancellationToken: ct).AsTask();
            id = (await scene.WorkflowAsync("slow-write.log", ct)).Id;
            var (approved, _) = await scene.DecideAsync(a, id, "approve");
            Assert.Equal(200, approved);

            // The upstream has done its effect and is still inside the call when the node dies.
            await scene.StatusAsync(id, ApprovalStatus.Executing, ct);
            await scene.EventuallyAsync("the upstream ran the call", () => Task.FromResult<bool?>(Lines(log) == 1), ct);
            a.Kill();
            await AssertLostAsync(held, a);
        }

        var b = await scene.StartNodeAsync("B", settings, ct);
        var inDoubt = await scene.StatusAsync(id, ApprovalStatus.InDoubt, ct);
        var (getStatus, shown) = await scene.GetApprovalAsync(b, id);
        await using var retryClient = await scene.ConnectAsync(b, "fx__slow-write", ct);
        var retry = await retryClient.CallToolAsync("fx__slow-write", arguments, cancellationToken: ct);

        // Give B's worker and reaper a full lease more to (wrongly) run the call again.
        await Task.Delay(Lease, ct);

        Assert.Equal((200, "in_doubt"), (getStatus, shown!["status"]!.GetValue<string>()));
        Assert.Contains("mid-call", inDoubt.State.Reason, StringComparison.Ordinal);
        Assert.True(retry.IsError);
        Assert.Equal($"Approval {id} was approved, but the call's outcome is unknown and it is not run again: {inDoubt.State.Reason}", Text(retry));
        Assert.Equal(1, Lines(log));
        Assert.Equal(1, await scene.ExecutionsStartedAsync(id));
        Assert.Equal("dead", Assert.Single(await scene.ExecuteTasksAsync(id)).State);
        Assert.Equal(1, await scene.WorkflowCountAsync(inDoubt.BusinessKey));
        Assert.Equal(ApprovalStatus.InDoubt, (await scene.Runtime.GetAsync(id, ct))!.State.Status);
    }

    [Fact]
    public async Task CallTool_HeldOnOneNodeAndApprovedOnAnother_TheHoldingNodeReturnsTheUpstreamResult()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        await using var scene = await FilesystemSceneAsync();
        var target = Path.Combine(scene.Directory, "sandbox", "two-nodes.txt");
        var nodes = await Task.WhenAll(scene.StartNodeAsync("A", null, ct), scene.StartNodeAsync("B", null, ct));
        var (a, b) = (nodes[0], nodes[1]);

        await using var client = await scene.ConnectAsync(a, "fs__write_file", ct);
        var held = client.CallToolAsync("fs__write_file", DurabilityScene.Arguments(("path", target), ("content", "across nodes")), cancellationToken: ct).AsTask();
        var pending = await scene.WorkflowAsync("two-nodes.txt", ct);

        // B shows the approval A started; this request also warms B's API path, so the figure below is not its JIT.
        var (shownStatus, shown) = await scene.GetApprovalAsync(b, pending.Id);
        var clock = Stopwatch.StartNew();
        var (status, _) = await scene.DecideAsync(b, pending.Id, "approve");
        var decided = clock.Elapsed;
        var result = await held;
        var answered = clock.Elapsed;
        var answeredAt = DateTimeOffset.UtcNow;
        var executedBy = Assert.Single(await scene.ExecuteTasksAsync(pending.Id)).Owner;
        var history = await scene.Runtime.GetHistoryAsync(pending.Id, ct);

        Assert.Equal((200, "pending"), (shownStatus, shown!["status"]!.GetValue<string>()));
        Assert.Equal(200, status);
        Assert.NotEqual(true, result.IsError);
        Assert.Contains("Successfully wrote", Text(result), StringComparison.Ordinal);
        Assert.Equal("across nodes", await File.ReadAllTextAsync(target, ct));
        Assert.Equal(1, await scene.ExecutionsStartedAsync(pending.Id));
        // Either node may claim the execute task; the lease owner (host:pid:suffix) says which did.
        var runner = new[] { (a, "A (holding)"), (b, "B (deciding)") }.FirstOrDefault(n => executedBy?.Contains($":{n.Item1.Pid}:", StringComparison.Ordinal) == true).Item2 ?? executedBy;
        // Where the time went, on the database clock (same machine): the decision, the claim, the call, the delivery.
        DateTimeOffset At(string type) => history.Single(h => h.Type == type).RecordedAt;
        string Span(DateTimeOffset from, DateTimeOffset to) => string.Create(CultureInfo.InvariantCulture, $"{(to - from).TotalMilliseconds:0} ms");
        TestFigures.Report(
            "gated call across two gateway processes",
            string.Create(CultureInfo.InvariantCulture,
                $"approve answered by B after {decided.TotalMilliseconds:0} ms, agent's result from A after {answered.TotalMilliseconds:0} ms (decision to result); " +
                $"approved to execution_started {Span(At("approved"), At("execution_started"))}, call {Span(At("execution_started"), At("execution_succeeded"))}, " +
                $"to the agent {Span(At("execution_succeeded"), answeredAt)}; the call ran on {runner}"),
            output);
    }

    /// <summary>server-filesystem as <c>fs</c>, allowed to write in <c>sandbox</c> of the scene's directory; write_file needs approval.</summary>
    private Task<DurabilityScene> FilesystemSceneAsync() => DurabilityScene.CreateAsync(
        directory =>
        {
            var filesystem = NodePeers.ServerFilesystem(Directory.CreateDirectory(Path.Combine(directory, "sandbox")).FullName);
            return $$"""
                  fs:
                    type: stdio
                    command: {{filesystem.FileName}}
                    args: {{DurabilityScene.YamlList(filesystem.Arguments)}}
                """;
        },
        ["fs"],
        """
                - {name: writes, action: approve, match: {tools: [fs__write_file]}}
            """,
        output);

    /// <summary>The upstream fixture as <c>fx</c>; its slow-write (not idempotent) needs approval.</summary>
    private Task<DurabilityScene> FixtureSceneAsync() => DurabilityScene.CreateAsync(
        _ => $$"""
                  fx:
                    type: stdio
                    command: {{NodePeers.Node}}
                    args: {{DurabilityScene.YamlList([Path.Combine(NodePeers.PeersDirectory, "upstream-fixtures", "fixture-server.mjs"), "stdio"])}}
                """,
        ["fx"],
        """
                - {name: slow-writes, action: approve, match: {tools: [fx__slow-write]}}
            """,
        output);

    /// <summary>The agent's call held on a node that died fails (it neither hangs nor gets a result).</summary>
    private async Task AssertLostAsync(Task<CallToolResult> held, GatewayProcess node)
    {
        var lost = await Record.ExceptionAsync(() => held);
        Assert.True(lost is not null, $"the call held on {node} returned a result although the node died");
        Assert.False(lost is OperationCanceledException, $"the call held on {node} did not end when the node died: {lost}");
        output.WriteLine($"The agent's call held on {node.Name} failed with {lost.GetType().FullName}: {lost.Message}");
    }

    private static string Text(CallToolResult result) => Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;

    private static int Lines(string path) => File.Exists(path) ? File.ReadAllLines(path).Length : 0;
}
