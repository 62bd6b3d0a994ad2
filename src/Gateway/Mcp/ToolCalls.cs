using System.Text.Json;
using System.Text.RegularExpressions;
using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Database;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Gateway.Telemetry;
using ApprovalEngine.Gateway.Upstreams;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// Runs an agent's tools/call: resolves the namespaced tool, asks policy, calls its upstream with the agent's identity,
/// relays progress, applies result handling, and records the call in the audit before the agent gets the answer.
/// </summary>
internal sealed partial class ToolCalls(
    IUpstreams upstreams, CallAudit audit, GatedCalls gated, RateLimiter limits, DatabaseAvailability database, TimeProvider time, ILogger<ToolCalls> logger)
{
    public async ValueTask<CallToolResult> CallAsync(AgentScope scope, RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken)
    {
        var parameters = request.Params ?? throw new McpProtocolException("tools/call needs params.", McpErrorCode.InvalidParams);
        using var span = GatewayTelemetry.StartToolCall(scope.AgentId, parameters.Name);
        var call = new CallFacts
        {
            Scope = scope,
            RequestedName = parameters.Name,
            Arguments = parameters.Arguments,
            RequestId = request.JsonRpcRequest.Id.ToString(),
            StartedAt = time.GetUtcNow(),
            StartedTimestamp = time.GetTimestamp(),
        };

        var tool = scope.View.FindTool(parameters.Name);
        if (tool is null)
        {
            await audit.RecordAsync(call, ToolCallOutcome.Rejected, $"unknown tool '{parameters.Name}'");
            throw new McpProtocolException($"Unknown tool '{parameters.Name}'.", McpErrorCode.InvalidParams);
        }

        call.Tool = tool;
        span?.SetTag("approval_engine.bundle", tool.Bundle);
        span?.SetTag("approval_engine.upstream", tool.Upstream);
        var decision = call.Decision = Decide(scope, tool, parameters.Arguments);
        switch (decision.Action)
        {
            case PolicyAction.Deny:
                await audit.RecordRefusalAsync(call, ToolCallOutcome.Denied, decision.Reason);
                return ErrorResult(decision.Failed
                    ? $"Policy refused '{parameters.Name}': {decision.Reason}."
                    : $"Policy denied '{parameters.Name}' (rule '{decision.RuleName}'){(decision.Reason is { } reason ? ": " + reason : ".")}");
            case PolicyAction.RateLimit:
                await audit.RecordRefusalAsync(call, ToolCallOutcome.RateLimited, decision.Reason);
                return ErrorResult($"'{parameters.Name}' was refused: {decision.Reason}.");
            case PolicyAction.Approve when await FindGrantAsync(call, decision, cancellationToken) is { } grant:
                // An earlier approval remembered for this agent and tool covers the call: it runs without a new card.
                call.Decision = decision = decision with { Action = PolicyAction.Allow, GrantedBy = grant };
                break;
            case PolicyAction.Approve:
                return TaskAugmentation.Of(request) is { } task
                    ? await StartTaskAsync(call, decision, task, cancellationToken)
                    : await HoldAsync(call, decision, request, cancellationToken);
        }

        if (database.IsDown && !audit.MayRunWithoutDatabase(call))
        {
            // Fail closed: the call's audit record could not be written, so running it would leave an effect nobody can
            // account for. Known from an earlier failure, not asked per call; a probe notices when the database is back.
            // Operators who chose availability (policy.onDatabaseUnavailable: allow) get here only once the held records fill.
            await audit.RecordRefusalAsync(call, ToolCallOutcome.Denied, DatabaseUnavailableReason);
            return ErrorResult($"The gateway's database is unavailable; the call to '{parameters.Name}' was not run (a call that cannot be audited is not run). Try again later.");
        }

        var channel = new AgentChannel(request.Server);
        CallToolResult result;
        try
        {
            result = await upstreams.CallToolAsync(
                tool.Upstream, tool.LocalName, parameters.Arguments?.AsReadOnly(), ProxyServer.CallContext(scope, channel, parameters.ProgressToken), cancellationToken);
        }
        catch (UpstreamUnavailableException e)
        {
            // The agent gets a tool result it can reason about rather than a protocol fault: the gateway is fine, the tool is not.
            // A timeout is recorded as such (the audit API filters on it), not lumped with crashes and refusals.
            await audit.RecordAsync(call, e.TimedOut ? ToolCallOutcome.Timeout : ToolCallOutcome.UpstreamError, e.Message);
            return ErrorResult(e.Message);
        }
        catch (McpException e) when (!cancellationToken.IsCancellationRequested)
        {
            await audit.RecordAsync(call, ToolCallOutcome.UpstreamError, e.Message);
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await audit.RecordAsync(call, ToolCallOutcome.Cancelled, "the agent cancelled the call");
            throw;
        }

        // Progress and log messages of the call go out before its result.
        await channel.DrainAsync();

        var outcome = result.IsError == true ? ToolCallOutcome.ToolError : ToolCallOutcome.Ok;
        string? note = null;
        if (decision is { Results: { } results, ResultDetectors: { } detectors })
        {
            result = ResultFilter.Apply(result, results, detectors, out var verdict, out var found);
            if (verdict != ResultVerdict.Unchanged)
            {
                outcome = verdict == ResultVerdict.Blocked ? ToolCallOutcome.ResultBlocked : ToolCallOutcome.ResultRedacted;
                note = $"detectors found {string.Join(", ", found)} in the result";
            }
        }

        await audit.RecordAsync(call, outcome, note);
        return result;
    }

    private async ValueTask<CallToolResult> HoldAsync(
        CallFacts call, PolicyDecision decision, RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken)
    {
        var channel = new AgentChannel(request.Server);
        GatedOutcome outcome;
        try
        {
            using var span = GatewayTelemetry.StartApproval("hold");
            outcome = await gated.HoldAsync(call, decision, channel, request.Params!.ProgressToken, cancellationToken);
            span?.SetTag("approval.id", outcome.ApprovalId.ToString());
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The waiter goes; the approval stays pending until its deadline, so a retry can join it.
            await audit.RecordAsync(call, ToolCallOutcome.Cancelled, "the agent stopped waiting; the approval stays pending");
            throw;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or Workflows.Runtime.InvalidWorkflowRequestException)
        {
            // No durable approval means no way to ask a human: fail closed.
            LogApprovalUnavailable(call.Scope.AgentId, call.RequestedName, e);
            database.ReportFailure(e);
            await audit.RecordRefusalAsync(call, ToolCallOutcome.Denied, "the approval could not be started: " + e.Message);
            return ErrorResult($"'{call.RequestedName}' needs approval (rule '{decision.RuleName}'), and the approval could not be started, so the call was not run. Try again later.");
        }

        call.ApprovalId = outcome.ApprovalId;
        call.ExecutedArgumentsDigest = outcome.ExecutedArgumentsDigest;
        await channel.DrainAsync();
        await audit.RecordAsync(call, outcome.Outcome, outcome.Error);
        return outcome.Result;
    }

    private async Task<Guid?> FindGrantAsync(CallFacts call, PolicyDecision decision, CancellationToken cancellationToken)
    {
        try
        {
            return await gated.FindGrantAsync(call, decision, cancellationToken);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            // Without the database no grant can be proven; the call goes on to ask for approval (which then fails closed too).
            LogApprovalUnavailable(call.Scope.AgentId, call.RequestedName, e);
            database.ReportFailure(e);
            return null;
        }
    }

    [LoggerMessage(3431, LogLevel.Error, "The approval for agent {Agent}'s call to {Tool} could not be started; the call was refused")]
    private partial void LogApprovalUnavailable(string agent, string tool, Exception exception);

    private PolicyDecision Decide(AgentScope scope, Proxied<Tool> tool, IDictionary<string, JsonElement>? arguments)
    {
        var snapshot = scope.View.Config;
        if (scope.Agent is not { } agent)
        {
            return PolicyDecision.Failure("the agent is no longer configured");
        }

        var policy = snapshot.Policy;
        using var span = GatewayTelemetry.StartPolicy();
        var call = new PolicyCall
        {
            Agent = agent,
            Bundle = tool.Bundle,
            Upstream = tool.Upstream,
            ToolName = policy.ToolName(tool.Upstream, tool.LocalName),
            Annotations = tool.Item.Annotations,
            ConfiguredIdempotent = snapshot.Config.Upstreams.TryGetValue(tool.Upstream, out var upstream) && Glob.AnyMatch(upstream.IdempotentTools, tool.LocalName),
            Arguments = arguments,
        };
        try
        {
            var decision = policy.Evaluate(call, limits);
            span?.SetTag("approval_engine.decision", PolicyDecision.ActionName(decision.Action));
            span?.SetTag("approval_engine.rule", decision.RuleName);
            return decision;
        }
        catch (RegexMatchTimeoutException e)
        {
            LogPolicyFailed(scope.AgentId, tool.Name, e);
            return PolicyDecision.Failure($"a matches condition took longer than {Durations.Format(e.MatchTimeout)}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Fail closed: whatever went wrong, a call policy could not judge does not run.
            LogPolicyFailed(scope.AgentId, tool.Name, e);
            return PolicyDecision.Failure("an internal error");
        }
    }

    [LoggerMessage(3430, LogLevel.Error, "Policy could not be evaluated for agent {Agent}'s call to {Tool}; the call was refused")]
    private partial void LogPolicyFailed(string agent, string tool, Exception exception);

    /// <summary>The audit's note on a call refused because the database was unavailable.</summary>
    internal const string DatabaseUnavailableReason = "the gateway's database was unavailable; the call was not run";

    internal static CallToolResult ErrorResult(string message) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = message }],
    };
}

/// <summary>What the audit needs to know about one call, gathered as it runs.</summary>
internal sealed class CallFacts
{
    public required AgentScope Scope { get; init; }

    public required string RequestedName { get; init; }

    public IDictionary<string, JsonElement>? Arguments { get; init; }

    public string? RequestId { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public long StartedTimestamp { get; init; }

    /// <summary>Null when the name matched no tool of the agent's scope.</summary>
    public Proxied<Tool>? Tool { get; set; }

    /// <summary>The approval workflow of a gated call.</summary>
    public Guid? ApprovalId { get; set; }

    /// <summary>Set when an approver edited the arguments: the digest of those that ran.</summary>
    public string? ExecutedArgumentsDigest { get; set; }

    /// <summary>Null until policy has been asked (unknown tools never get that far).</summary>
    public PolicyDecision? Decision { get; set; }
}
