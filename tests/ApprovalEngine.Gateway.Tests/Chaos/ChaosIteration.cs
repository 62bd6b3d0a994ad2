using System.Diagnostics;
using ApprovalEngine.Gateway.Tests.Approvals;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Chaos;

/// <summary>A node killed in an iteration: where, which one, and whether it held the agent's call or ran the upstream call.</summary>
internal sealed record ChaosKill(KillPoint Point, string Node, int Pid, bool HeldTheCall, bool? RanTheCall);

/// <summary>What happened in one iteration, for the invariants and the one-line report.</summary>
internal sealed record ChaosRun(
    ChaosPlan Plan,
    string Path,
    Guid ApprovalId,
    IReadOnlyList<ChaosKill> Kills,
    IReadOnlyList<ClickAnswer> Answers,
    CallToolResult AgentAnswer,
    int AgentAttempts,
    IReadOnlyList<Guid> ReAsked,
    WorkflowSnapshot Final,
    TimeSpan Elapsed);

/// <summary>
/// One gated call of the fixture's non-idempotent <c>slow-write</c> (a file of its own) through two nodes, with the
/// plan's kill: the agent calls on the holder; the approver clicks as planned, and again on a live node until one click
/// is answered; the agent, whose call died with its node, calls again on a live node until it has a final answer.
/// </summary>
internal sealed class ChaosIteration(DurabilityScene scene, ChaosCluster cluster, ChaosApprover approver, ChaosPlan plan, string directory)
{
    private const int MaxClicks = 6;
    private const int MaxAgentAttempts = 6;
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(45);

    private readonly List<ChaosKill> kills = [];
    private readonly Random retries = new(plan.RetrySeed);
    private int heldOn;

    public async Task<ChaosRun> RunAsync(CancellationToken cancellationToken)
    {
        await cluster.WaitAllLiveAsync(cancellationToken);
        var clock = Stopwatch.StartNew();
        var path = Path.Combine(directory, $"call-{plan.Iteration:000}.log");
        var arguments = DurabilityScene.Arguments(("path", path), ("line", $"iteration {plan.Iteration}"), ("ms", plan.WriteMilliseconds));

        heldOn = plan.Holder;
        var client = await cluster.ClientAsync(heldOn, cancellationToken);
        var held = client.CallToolAsync(ChaosCluster.Tool, arguments, cancellationToken: cancellationToken).AsTask();
        var id = await WaitForAsync($"the approval of {Path.GetFileName(path)} exists", () => FirstApprovalAsync(path), cancellationToken);

        if (plan.Kill == KillPoint.WhilePending)
        {
            Kill(plan.Victim, null);
        }

        var answers = await DecideAsync(id, cancellationToken);
        switch (plan.Kill)
        {
            case KillPoint.AfterDecision:
                Kill(plan.Victim, null);
                break;
            case KillPoint.DuringExecution:
                await KillDuringExecutionAsync(id, path, cancellationToken);
                break;
            case KillPoint.AfterExecution:
                await FinalAsync(id, cancellationToken);
                Kill(plan.Victim, null);
                break;
        }

        var (answer, attempts, reAsked) = await AgentAnswerAsync(held, arguments, path, id, cancellationToken);
        var final = await FinalAsync(id, cancellationToken);
        return new ChaosRun(plan, path, id, kills, answers, answer, attempts, reAsked, final, clock.Elapsed);
    }

    public static int Lines(string path) => File.Exists(path) ? File.ReadAllLines(path).Length : 0;

    /// <summary>The approvals whose arguments name <paramref name="path"/>, oldest first.</summary>
    public static async Task<IReadOnlyList<(Guid Id, string State)>> ApprovalsOfAsync(NpgsqlDataSource database, string path)
    {
        await using var command = database.CreateCommand(
            "SELECT id, state FROM wf_instance WHERE data->'request'->'arguments'->>'path' = $1 ORDER BY created_at, id");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = path });
        await using var reader = await command.ExecuteReaderAsync();
        var found = new List<(Guid, string)>();
        while (await reader.ReadAsync())
        {
            found.Add((reader.GetGuid(0), reader.GetString(1)));
        }

        return found;
    }

    private async Task<Guid?> FirstApprovalAsync(string path) =>
        await ApprovalsOfAsync(scene.Database, path) is [var first, ..] ? first.Id : null;

    /// <summary>The planned clicks at once (with the kill among them when planned), then clicks on a live node until one is answered.</summary>
    private async Task<List<ClickAnswer>> DecideAsync(Guid id, CancellationToken cancellationToken)
    {
        var sent = plan.Clicks.Select(click => SendAsync(click, id, cancellationToken)).ToList();
        if (plan.Kill == KillPoint.DuringDecision)
        {
            await Task.Delay(plan.KillDelayMilliseconds, cancellationToken);
            Kill(plan.Victim, null);
        }

        var answers = (await Task.WhenAll(sent)).ToList();
        while (!answers.Any(a => a.Answered))
        {
            Assert.True(answers.Count < MaxClicks, $"No decision request was answered: {string.Join("; ", answers)}\n{cluster.Describe()}");

            // The person sees no answer and clicks the first decision again, on a node that is up.
            answers.Add(await SendAsync(plan.Clicks[0], id, cancellationToken));
        }

        return answers;
    }

    private Task<ClickAnswer> SendAsync(Click click, Guid id, CancellationToken cancellationToken)
    {
        var slot = cluster.LiveSlot(click.Slot);
        var node = cluster.Live(slot)!;
        return approver.DecideAsync(click with { Slot = slot }, node.Name, node.BaseUrl, id, cancellationToken);
    }

    /// <summary>Once the upstream has appended its line (the call is inside the upstream), kill the node running it or the other one.</summary>
    private async Task KillDuringExecutionAsync(Guid id, string path, CancellationToken cancellationToken)
    {
        // A denied call never runs: then this is a kill right after the decision.
        var runner = await WaitForAsync($"{Path.GetFileName(path)} was written, or its approval is final", async () =>
        {
            if (Lines(path) >= 1 && await RunnerAsync(id) is { } slot)
            {
                return slot;
            }

            return await scene.Runtime.GetAsync(id, cancellationToken) is { State.IsFinal: true } ? -1 : (int?)null;
        }, cancellationToken);

        if (runner >= 0 && runner is var slot)
        {
            Kill(plan.VictimRunsTheCall ? slot : 1 - slot, plan.VictimRunsTheCall);
        }
        else
        {
            Kill(plan.Victim, null);
        }
    }

    /// <summary>The live node whose worker holds the lease of the running execute task.</summary>
    private async Task<int?> RunnerAsync(Guid id)
    {
        await using var command = scene.Database.CreateCommand("SELECT lease_owner FROM wf_task WHERE wf_id = $1 AND kind = 'execute' AND state = 'running'");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        if (await command.ExecuteScalarAsync() is not string owner)
        {
            return null;
        }

        for (var slot = 0; slot < 2; slot++)
        {
            if (cluster.Live(slot) is { } node && owner.Contains($":{node.Pid}:", StringComparison.Ordinal))
            {
                return slot;
            }
        }

        return null;
    }

    private void Kill(int slot, bool? ranTheCall)
    {
        var node = cluster.Kill(slot);
        kills.Add(new ChaosKill(plan.Kill, node.Name, node.Pid, slot == heldOn, ranTheCall));
    }

    /// <summary>
    /// The held call's answer; when its node died, the same call again on a live node, until the answer is final. A call
    /// again that finds the approval's outcome already delivered asks anew: the approver denies such a second approval.
    /// </summary>
    private async Task<(CallToolResult Answer, int Attempts, List<Guid> ReAsked)> AgentAnswerAsync(
        Task<CallToolResult> held, Dictionary<string, object?> arguments, string path, Guid id, CancellationToken cancellationToken)
    {
        var reAsked = new List<Guid>();
        var attempts = 1;
        CallToolResult? answer = null;
        try
        {
            answer = await held.WaitAsync(AnswerTimeout, cancellationToken);
        }
        catch (Exception e) when (kills.Any(k => k.HeldTheCall) && e is not (TimeoutException or OperationCanceledException))
        {
            // Its node died: the agent sees a broken connection and calls again.
        }

        while (answer is null || IsPending(answer))
        {
            Assert.True(attempts < MaxAgentAttempts, $"The agent had no final answer after {attempts} calls: {Text(answer)}\n{cluster.Describe()}");
            attempts++;
            var slot = cluster.LiveSlot(retries.Next(2));
            var client = await cluster.ClientAsync(slot, cancellationToken);
            using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var watcher = DenyNewApprovalsAsync(path, id, reAsked, watching.Token);
            try
            {
                answer = await client.CallToolAsync(ChaosCluster.Tool, arguments, cancellationToken: cancellationToken).AsTask().WaitAsync(AnswerTimeout, cancellationToken);
            }
            finally
            {
                await watching.CancelAsync();
                await watcher;
            }
        }

        return (answer, attempts, reAsked);
    }

    /// <summary>Denies, as the approver would, any approval for the same file other than the first while the agent calls again.</summary>
    private async Task DenyNewApprovalsAsync(string path, Guid first, List<Guid> denied, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            foreach (var (id, state) in await ApprovalsOfAsync(scene.Database, path))
            {
                if (id != first && state == "pending" && !denied.Contains(id))
                {
                    var answer = await SendAsync(new Click(retries.Next(2), ChaosPlan.Deny, null), id, CancellationToken.None);
                    Assert.True(answer.Status == 200, $"Denying the new approval {id} for {path}: {answer}");
                    denied.Add(id);
                }
            }

            await Task.Delay(100, CancellationToken.None);
        }
    }

    private async Task<T> WaitForAsync<T>(string what, Func<Task<T?>> probe, CancellationToken cancellationToken)
        where T : struct =>
        (T)await scene.EventuallyAsync<object>(what, async () => await probe() is { } found ? found : null, cancellationToken);

    private Task<WorkflowSnapshot> FinalAsync(Guid id, CancellationToken cancellationToken) =>
        scene.EventuallyAsync($"approval {id} is final", async () => await scene.Runtime.GetAsync(id, cancellationToken) is { State.IsFinal: true } w ? w : null, cancellationToken);

    private static bool IsPending(CallToolResult answer) =>
        answer.IsError == true && Text(answer).StartsWith("Pending approval", StringComparison.Ordinal);

    public static string Text(CallToolResult? answer) =>
        answer?.Content.OfType<TextContentBlock>().FirstOrDefault()?.Text ?? "(no answer)";
}
