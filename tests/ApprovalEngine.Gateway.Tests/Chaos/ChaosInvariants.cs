using ApprovalEngine.Gateway.Tests.Approvals;
using ApprovalEngine.Workflows.Approval;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Chaos;

/// <summary>
/// What must hold after every iteration, however the kills fell: the approval exists and is final, exactly one
/// decision was applied and it is one the approver's accepted answers named, the non-idempotent call ran at most once
/// (exactly once when completed, never when denied), the agent's final answer tells that outcome and was audited, and
/// the approval's history chain verifies.
/// </summary>
internal static class ChaosInvariants
{
    private static readonly string[] DecisionEvents = ["approved", "denied", "cancelled", "expired"];

    public static async Task CheckAsync(DurabilityScene scene, ChaosRun run, CancellationToken cancellationToken)
    {
        var id = run.ApprovalId;
        var context = $"iteration {run.Plan.Iteration} ({run.Plan}); approval {id}; clicks {string.Join("; ", run.Answers)}; kills {Kills(run)}";

        // No approval lost: the first one is there and final; any other for the same call is one the approver denied.
        var approvals = await ChaosIteration.ApprovalsOfAsync(scene.Database, run.Path);
        Assert.True(approvals.Count > 0 && approvals[0].Id == id, $"The approval is gone: {context}");
        Assert.True(approvals.Skip(1).Select(a => a.Id).SequenceEqual(run.ReAsked), $"Approvals nobody asked for: {string.Join(", ", approvals)}; {context}");
        var state = (await scene.Runtime.GetAsync(id, cancellationToken))!.State;
        Assert.True(state.IsFinal, $"Not final: {state.Status}; {context}");

        // No decision applied twice.
        var history = await scene.Runtime.GetHistoryAsync(id, cancellationToken);
        var types = history.Select(h => h.Type).ToList();
        var decisions = types.Where(DecisionEvents.Contains).ToList();
        Assert.True(decisions.Count == 1, $"{decisions.Count} decisions applied ({string.Join(", ", types)}); {context}");
        Assert.True(types.Count(t => t == "vote_recorded") <= 1, $"Votes: {string.Join(", ", types)}; {context}");
        var decided = decisions[0] switch
        {
            "approved" => ChaosPlan.Approve,
            "denied" => ChaosPlan.Deny,
            _ => $"(none: {decisions[0]})",
        };
        Assert.True(run.Plan.Clicks.Any(c => c.Verb == decided), $"The decision applied, {decisions[0]}, is no click's: {context}");
        Assert.True(run.Answers.Where(a => a.Accepted).All(a => a.Click.Verb == decided), $"An accepted click disagrees with the decision {decisions[0]}: {context}");

        // The non-idempotent call ran at most once: exactly once when completed, never when denied; in doubt only where a node was killed.
        var lines = ChaosIteration.Lines(run.Path);
        var started = types.Count(t => t == "execution_started");
        var expected = state.Status switch
        {
            ApprovalStatus.Completed => decided == ChaosPlan.Approve && lines == 1 && started == 1,
            ApprovalStatus.Denied => decided == ChaosPlan.Deny && lines == 0 && started == 0,
            ApprovalStatus.InDoubt => decided == ChaosPlan.Approve && lines <= 1 && started == 1 && run.Kills.Count > 0,
            _ => false,
        };
        Assert.True(expected, $"Final state {state.Status} with {lines} line(s) written and {started} execution(s) started after {decisions[0]} ({string.Join(", ", types)}); reason {state.Reason}; {context}");
        Assert.Empty(await OpenExecuteTasksAsync(scene.Database, id));

        // The agent's final answer tells that outcome (or the denial of the approval it asked anew).
        var text = ChaosIteration.Text(run.AgentAnswer);
        var answered = run.ReAsked.Count == 0 ? id : run.ReAsked[^1];
        var agentOk = run.ReAsked.Count > 0
            ? run.AgentAnswer.IsError == true && text.Contains($"Approval {answered} was denied", StringComparison.Ordinal)
            : state.Status switch
            {
                ApprovalStatus.Completed => run.AgentAnswer.IsError != true && text == $"wrote {run.Path}",
                ApprovalStatus.Denied => run.AgentAnswer.IsError == true && text.Contains($"Approval {id} was denied", StringComparison.Ordinal),
                _ => run.AgentAnswer.IsError == true && text.Contains($"Approval {id} was approved, but the call's outcome is unknown and it is not run again", StringComparison.Ordinal),
            };
        Assert.True(agentOk, $"The agent's answer does not tell the outcome {state.Status}: {text}; {context}");
        Assert.True(await AnsweredCallsAsync(scene.Database, answered) >= 1, $"The agent's answer for approval {answered} has no audit record; {context}");

        // A new approval for the same call is only right when the first one's outcome had been delivered (and so audited)
        // before its node died; the second was denied and never ran.
        foreach (var again in run.ReAsked)
        {
            Assert.True(await AnsweredCallsAsync(scene.Database, id) >= 1, $"Approval {again} was asked anew although approval {id}'s outcome was never delivered; {context}");
            var second = (await scene.Runtime.GetAsync(again, cancellationToken))!.State;
            Assert.True(second.Status == ApprovalStatus.Denied, $"The approval asked anew, {again}, is {second.Status}; {context}");
        }

        var chain = await scene.Runtime.VerifyAsync(id, cancellationToken);
        Assert.True(chain.Valid, $"The history chain of {id} is broken at {chain.FirstBadSeq}: {chain.Problem}; {context}");
    }

    public static string Kills(ChaosRun run) =>
        run.Kills.Count == 0 ? "none" : string.Join(", ", run.Kills.Select(k =>
            $"{k.Node} (pid {k.Pid}{(k.HeldTheCall ? ", held the call" : "")}{(k.RanTheCall is true ? ", ran the call" : k.RanTheCall is false ? ", not running the call" : "")})"));

    /// <summary>Execute tasks of the approval still waiting or running: none once it is final.</summary>
    private static async Task<List<string>> OpenExecuteTasksAsync(NpgsqlDataSource database, Guid id)
    {
        await using var command = database.CreateCommand("SELECT id::text || ' ' || state FROM wf_task WHERE wf_id = $1 AND kind = 'execute' AND state IN ('ready', 'running')");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync();
        var open = new List<string>();
        while (await reader.ReadAsync())
        {
            open.Add(reader.GetString(0));
        }

        return open;
    }

    /// <summary>Audited tool calls of the approval that were answered with its outcome (not "still pending").</summary>
    private static async Task<long> AnsweredCallsAsync(NpgsqlDataSource database, Guid approval)
    {
        await using var command = database.CreateCommand("SELECT count(*) FROM tool_call_audit WHERE approval_id = $1 AND outcome NOT IN ('pending', 'cancelled')");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = approval });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
