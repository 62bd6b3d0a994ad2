using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Database;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Gateway.Telemetry;
using ModelContextProtocol;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// Turns a finished call into an audit record and waits until it is durable. When the audit cannot be written the
/// agent gets an error instead of the result: a call nobody can account for must not look successful. A failure that
/// shows the database unreachable also marks it down (<see cref="DatabaseAvailability"/>), so that further calls are
/// refused before they run; or, with <c>policy.onDatabaseUnavailable: allow</c>, records are held in memory until the
/// database answers (<see cref="IToolCallAudit.TryHold"/>), and calls run while there is room to hold them.
/// </summary>
internal sealed partial class CallAudit(
    IToolCallAudit audit, IArgumentRedactor redactor, DatabaseAvailability database, GatewayMetrics metrics, TimeProvider time, ILogger<CallAudit> logger)
{
    /// <param name="outcome">A <see cref="ToolCallOutcome"/> value.</param>
    /// <exception cref="McpProtocolException">The record could not be written (nor held): the result is withheld.</exception>
    public async Task RecordAsync(CallFacts call, string outcome, string? error)
    {
        if (await WriteOrHoldAsync(call, Build(call, outcome, error)) is { } failure)
        {
            LogAuditFailed(call.Scope.AgentId, call.RequestedName, failure);
            throw new McpProtocolException("The gateway could not record this call in its audit, so it withholds the result. Try again later.", McpErrorCode.InternalError);
        }
    }

    /// <summary>
    /// Records a call that was refused before anything ran (denied, rate-limited, no approval could be started, no
    /// database). If the record cannot be written the refusal still stands: there is no result to withhold, and turning a
    /// clear refusal into a protocol error would tell the agent less. The log keeps the trace the audit could not.
    /// </summary>
    /// <param name="outcome">A <see cref="ToolCallOutcome"/> value.</param>
    public async Task RecordRefusalAsync(CallFacts call, string outcome, string? error)
    {
        if (await WriteOrHoldAsync(call, Build(call, outcome, error)) is { } failure)
        {
            LogRefusalNotRecorded(call.Scope.AgentId, call.RequestedName, outcome, failure);
        }
    }

    /// <summary>
    /// Whether the call may run while the database is known to be down: only when operators chose availability
    /// (<c>policy.onDatabaseUnavailable: allow</c>) and the audit has room to hold its record until the database returns.
    /// </summary>
    public bool MayRunWithoutDatabase(CallFacts call) => HoldsWhileDown(call) && audit.CanHold;

    private static bool HoldsWhileDown(CallFacts call) => call.Scope.View.Config.Config.Policy.OnDatabaseUnavailable == DatabaseOutagePolicy.Allow;

    /// <summary>Null once the record is committed, or held for later where the policy allows it; else why neither.</summary>
    private async Task<ToolCallAuditException?> WriteOrHoldAsync(CallFacts call, ToolCallRecord record)
    {
        if (database.IsDown && HoldsWhileDown(call) && audit.TryHold(record))
        {
            return null;
        }

        try
        {
            // Not the request's token: the call happened, so its record is written even if the agent has gone.
            await audit.AppendAsync(record, CancellationToken.None);
            return null;
        }
        catch (ToolCallAuditException e)
        {
            // A call that ran as the database went away: with allow, its record is held like those of the calls after it.
            return database.ReportFailure(e) && HoldsWhileDown(call) && audit.TryHold(record) ? null : e;
        }
    }

    private ToolCallRecord Build(CallFacts call, string outcome, string? error)
    {
        var record = new ToolCallRecord
        {
            AgentId = call.Scope.AgentId,
            Bundle = call.Tool?.Bundle ?? call.Scope.Bundle ?? "*",
            Upstream = call.Tool?.Upstream ?? "-",
            Tool = call.Tool?.LocalName ?? call.RequestedName,
            ToolName = call.RequestedName,
            ArgumentsDigest = ArgumentDigest.Compute(call.Arguments),
            RedactedArguments = redactor.Redact(call.Arguments),
            Decision = call.Decision is not { } decision || decision.Failed ? ToolCallDecision.Error
                : decision.GrantedBy is not null ? ToolCallDecision.Grant
                : PolicyDecision.ActionName(decision.Action),
            Rule = call.Decision is { Failed: false } decided ? decided.RuleName : null,
            ShadowDecision = call.Decision?.Shadow is { } shadow ? PolicyDecision.ActionName(shadow.Action) : null,
            ShadowRule = call.Decision?.Shadow?.Rule,
            ApprovalId = call.ApprovalId ?? call.Decision?.GrantedBy,
            ExecutedArgumentsDigest = call.ExecutedArgumentsDigest,
            Outcome = outcome,
            Duration = time.GetElapsedTime(call.StartedTimestamp),
            Error = error,
            SessionId = call.Scope.SessionId,
            RequestId = call.RequestId,
            StartedAt = call.StartedAt,
        };

        metrics.CallFinished(record.Decision, outcome, record.Rule, record.Duration, record.ApprovalId);
        return record;
    }

    [LoggerMessage(3420, LogLevel.Error, "The audit record of agent {Agent}'s call to {Tool} could not be written; the result was withheld")]
    private partial void LogAuditFailed(string agent, string tool, Exception exception);

    [LoggerMessage(3153, LogLevel.Warning, "Agent {Agent}'s call to {Tool} was refused ({Outcome}) and the refusal could not be recorded in the audit")]
    private partial void LogRefusalNotRecorded(string agent, string tool, string outcome, Exception exception);
}
