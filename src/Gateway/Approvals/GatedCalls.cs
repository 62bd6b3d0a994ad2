using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Mcp;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Npgsql;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>
/// A call that policy gated: starts (or joins) its durable approval workflow, holds the agent's call while the approval
/// is pending (with progress notifications when the agent asked for them), and answers with the upstream's result once
/// approved and executed, or with a clear refusal. After the hold time the agent is told to call again; the same
/// call (agent, bundle, tool and argument digest) joins the same workflow, on any node, and gets its outcome until a
/// call was answered with it (see <see cref="StartAsync"/>).
/// </summary>
internal sealed partial class GatedCalls(
    WorkflowRuntime runtime,
    ApprovalWaiters waiters,
    NpgsqlDataSource dataSource,
    LiveConfiguration config,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<GatedCalls> logger)
{
    public const string MetaKey = "approvalEngine/approval";

    // A held call answered with the approval's outcome. CallAudit commits this record before the answer goes out, so it
    // is the durable sign that the outcome was delivered; a grant's record (decision 'grant') is another call's.
    private const string AnsweredSql = $"""
        SELECT EXISTS (SELECT 1 FROM tool_call_audit
                       WHERE approval_id = $1 AND decision = '{ToolCallDecision.Approve}'
                         AND outcome NOT IN ('{ToolCallOutcome.Pending}', '{ToolCallOutcome.Cancelled}'))
        """;

    public async Task<GatedOutcome> HoldAsync(
        CallFacts call, PolicyDecision decision, AgentChannel channel, ProgressToken? progressToken, CancellationToken cancellationToken)
    {
        var start = await StartAsync(call, decision, cancellationToken);
        var id = start.Workflow.Id;
        var snapshot = config.Current;
        var spec = decision.Approval ?? new ApprovalSpec();
        var holdUntil = time.GetUtcNow() + spec.Hold;
        var waiter = start.Workflow.State.IsFinal ? (Guid?)null : await waiters.AttachAsync(id, spec.WithdrawAfter, cancellationToken);
        var cancelled = false;
        try
        {
            var interval = snapshot.Config.Policy.ProgressInterval;
            var progress = progressToken is { } token ? new ProgressRelay(channel, token) : null;
            var reports = 0;
            var current = start.Workflow;
            while (!current.State.IsFinal)
            {
                // A node that stops ends its holds at once, as if the hold time had passed: the approval stays open,
                // and the agent's retry joins it on another node.
                var remaining = holdUntil - time.GetUtcNow();
                if (remaining <= TimeSpan.Zero || lifetime.ApplicationStopping.IsCancellationRequested)
                {
                    return Pending(current, snapshot.Config, remaining <= TimeSpan.Zero ? "the hold time ended" : "this gateway node stopped");
                }

                progress?.Report(new ProgressNotificationValue { Progress = ++reports, Message = Waiting(current) });
                using var slice = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
                slice.CancelAfter(remaining < interval ? remaining : interval);
                try
                {
                    current = await runtime.AwaitAsync(id, static s => s.State.IsFinal, slice.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // The slice ended: report progress again, or give up holding.
                    current = await runtime.GetAsync(id, cancellationToken) ?? current;
                }
            }

            // The business key stays taken until this answer is audited (StartAsync): a node that dies before it is
            // sent leaves the outcome for the agent's next call instead of losing it.
            return Final(current) with { ExecutedArgumentsDigest = current.State.EditedArgumentsDigest };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            cancelled = true;
            throw;
        }
        finally
        {
            if (waiter is { } attached)
            {
                await waiters.DetachAsync(attached, cancelled);
            }
        }
    }

    /// <summary>
    /// The approval whose <c>remember</c> grant covers this call: the same agent, bundle, upstream, tool and rule, approved
    /// and run within the grant's duration, and with the same arguments when the grant is bound to them.
    /// </summary>
    public async Task<Guid?> FindGrantAsync(CallFacts call, PolicyDecision decision, CancellationToken cancellationToken)
    {
        if (decision.Approval?.Remember is not { } remember || call.Tool is not { } tool)
        {
            return null;
        }

        var now = time.GetUtcNow();
        var spec = decision.Approval;
        var oldestStart = now - remember.Duration - spec.Timeout - (spec.Escalation?.Timeout ?? TimeSpan.Zero);
        var digest = ArgumentDigest.Compute(call.Arguments);
        var page = await runtime.QueryAsync(
            new WorkflowQuery { AgentId = call.Scope.AgentId, Tool = tool.LocalName, Status = ApprovalStatus.Completed, CreatedFrom = oldestStart, Limit = 100 },
            cancellationToken);
        return page.Items
            .Select(w => w.State)
            .Where(s => s.Request.Bundle == tool.Bundle && s.Request.Upstream == tool.Upstream && s.Request.Rule == decision.RuleName)
            .Where(s => s.DecidedAt is { } decided && now - decided <= remember.Duration)
            .Where(s => !remember.SameArguments || (s.EditedArgumentsDigest ?? s.Request.ArgumentsDigest) == digest)
            .Select(s => (Guid?)s.Id)
            .FirstOrDefault();
    }

    /// <summary>
    /// Starts the approval workflow of a gated call, or joins the one already open for the same call, or the final one
    /// whose outcome no call was answered with yet. An outcome is delivered once: once an answered call is in the audit
    /// (or the outcome is older than <c>resultRetention</c>), the same call is a new request and asks again.
    /// </summary>
    public async Task<StartResult> StartAsync(CallFacts call, PolicyDecision decision, CancellationToken cancellationToken)
    {
        var tool = call.Tool!;
        var snapshot = config.Current;
        var arguments = JsonSerializer.SerializeToElement(call.Arguments ?? new Dictionary<string, JsonElement>());
        var digest = ArgumentDigest.Compute(call.Arguments);
        var spec = decision.Approval ?? new ApprovalSpec();
        var request = new ApprovalRequest
        {
            AgentId = call.Scope.AgentId,
            AgentOwner = call.Scope.Agent?.Owner,
            Bundle = tool.Bundle,
            Upstream = tool.Upstream,
            Tool = tool.LocalName,
            Arguments = arguments,
            ArgumentsDigest = digest,
            Rule = decision.RuleName,
            Reason = decision.Reason,
            Approvers = Stage(snapshot.Config, spec.Approvers, spec.Timeout),
            Quorum = spec.Quorum,
            EscalateTo = spec.Escalation is { } escalation ? Stage(snapshot.Config, escalation.Approvers, escalation.Timeout) : null,
            AllowEditedArguments = spec.AllowEdits,
            ToolIdempotent = decision.ToolIdempotent,
            TraceParent = Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null,
            Notify = HasCards(snapshot.Config, [.. spec.Approvers, .. spec.Escalation?.Approvers ?? []]),
        };

        // One workflow per distinct call: a retry with the same arguments joins it instead of asking again.
        var businessKey = string.Join('\u001f', request.AgentId, request.Bundle, tool.Upstream, tool.LocalName, digest);
        var start = await runtime.StartAsync(businessKey, request, cancellationToken);
        if (start.Workflow.State.IsFinal
            && (time.GetUtcNow() - start.Workflow.UpdatedAt > snapshot.Config.Policy.ResultRetention || await AnsweredAsync(start.Workflow.Id, cancellationToken)))
        {
            // Its outcome was delivered, or never collected and past keeping: this call is a new request.
            await runtime.ReleaseBusinessKeyAsync(start.Workflow.Id, cancellationToken);
            start = await runtime.StartAsync(businessKey, request, cancellationToken);
        }

        if (start.Created)
        {
            LogStarted(start.Workflow.Id, request.AgentId, tool.Name, request.Approvers.Group);
        }

        return start;
    }

    private async Task<bool> AnsweredAsync(Guid approvalId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(AnsweredSql);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = approvalId });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Whether any of <paramref name="groups"/> gets cards on Slack or Teams (else the workflow sends none).</summary>
    private static bool HasCards(GatewayConfig config, IEnumerable<string> groups) =>
        groups.Any(g => config.Approvers.GetValueOrDefault(g) is { } group && (group.Slack is not null || group.Teams is not null));

    private static ApproverStage Stage(GatewayConfig config, IReadOnlyList<string> groups, TimeSpan timeout) => new()
    {
        Group = string.Join('+', groups),
        Approvers = [.. groups.SelectMany(g => config.Approvers.GetValueOrDefault(g)?.Members ?? []).Distinct(StringComparer.OrdinalIgnoreCase)],
        Timeout = timeout,
    };

    internal static string Waiting(WorkflowSnapshot workflow)
    {
        var state = workflow.State;
        if (state.Status is ApprovalStatus.Approved or ApprovalStatus.Executing)
        {
            return string.Create(CultureInfo.InvariantCulture, $"Approval {state.Id} was approved by {string.Join(", ", state.DecidedBy)}; the call is running.");
        }

        var stage = state.CurrentStage;
        return string.Create(CultureInfo.InvariantCulture,
            $"Waiting for approval {state.Id} from {stage.Group} ({string.Join(", ", stage.Approvers)}), {state.Votes.Count}/{state.Request.Quorum} approvals, deadline {state.DeadlineAt:u}.");
    }

    private static GatedOutcome Pending(WorkflowSnapshot workflow, GatewayConfig config, string why)
    {
        var state = workflow.State;
        var link = ConsoleLink(config, state.Id);
        var text = string.Create(CultureInfo.InvariantCulture,
            $"Pending approval {state.Id}: call again with the same arguments to get the outcome. Asked: {state.CurrentStage.Group}; deadline {state.DeadlineAt:u}; see {link}.");
        var result = new CallToolResult
        {
            IsError = true,
            Content = [new TextContentBlock { Text = text }],
            Meta = new JsonObject
            {
                [MetaKey] = new JsonObject
                {
                    ["id"] = state.Id.ToString(),
                    ["state"] = ApprovalMachine.StatusName(state.Status),
                    ["deadline"] = state.DeadlineAt.ToString("O", CultureInfo.InvariantCulture),
                    ["console"] = link,
                },
            },
        };
        return new GatedOutcome(state.Id, result, ToolCallOutcome.Pending, $"still pending when {why} ({state.Id})");
    }

    internal static GatedOutcome Final(WorkflowSnapshot workflow)
    {
        var state = workflow.State;
        var decidedBy = state.DecidedBy.Count == 0 ? "nobody" : string.Join(", ", state.DecidedBy);
        string Refusal(string what) => string.Create(CultureInfo.InvariantCulture,
            $"Approval {state.Id} {what}{(state.Reason is { } reason ? ": " + reason : ".")}");
        return state.Status switch
        {
            ApprovalStatus.Completed when state.Result is { } stored => new GatedOutcome(
                state.Id, GatewayToolInvoker.ToResult(stored), GatewayToolInvoker.ToResult(stored).IsError == true ? ToolCallOutcome.ToolError : ToolCallOutcome.Ok, null),
            ApprovalStatus.Denied => Refused(state.Id, Refusal($"was denied by {decidedBy}"), ToolCallOutcome.Denied),
            ApprovalStatus.Expired => Refused(state.Id, Refusal("expired: nobody decided before the deadline"), ToolCallOutcome.Denied),
            ApprovalStatus.Cancelled => Refused(state.Id, Refusal($"was withdrawn by {decidedBy}"), ToolCallOutcome.Cancelled),
            ApprovalStatus.InDoubt => Refused(state.Id, Refusal("was approved, but the call's outcome is unknown and it is not run again"), ToolCallOutcome.UpstreamError),
            _ => Refused(state.Id, string.Create(CultureInfo.InvariantCulture, $"Approval {state.Id} was approved by {decidedBy}, but the call failed: {state.Error}"), ToolCallOutcome.UpstreamError),
        };
    }

    private static GatedOutcome Refused(Guid id, string message, string outcome) =>
        new(id, ToolCalls.ErrorResult(message), outcome, message);

    public static string ConsoleLink(GatewayConfig config, Guid id) =>
        (config.Server.PublicUrl?.ToString().TrimEnd('/') ?? "") + "/console/approvals/" + id.ToString("D");

    [LoggerMessage(3600, LogLevel.Information, "Approval {Id} started for agent {Agent}'s call to {Tool}; asked {Group}")]
    private partial void LogStarted(Guid id, string agent, string tool, string group);
}

/// <summary>What a gated call answers, and how the audit records it.</summary>
internal sealed record GatedOutcome(Guid ApprovalId, CallToolResult Result, string Outcome, string? Error)
{
    /// <summary>Set when an approver edited the arguments: the digest of those that ran.</summary>
    public string? ExecutedArgumentsDigest { get; init; }
}
