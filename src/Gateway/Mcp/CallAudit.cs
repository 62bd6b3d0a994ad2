using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Gateway.Telemetry;
using ModelContextProtocol;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// Turns a finished call into an audit record and waits until it is durable. When the audit cannot be written the
/// agent gets an error instead of the result: a call nobody can account for must not look successful.
/// </summary>
internal sealed partial class CallAudit(IToolCallAudit audit, IArgumentRedactor redactor, GatewayMetrics metrics, TimeProvider time, ILogger<CallAudit> logger)
{
    /// <param name="outcome">A <see cref="ToolCallOutcome"/> value.</param>
    public async Task RecordAsync(CallFacts call, string outcome, string? error)
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
        try
        {
            // Not the request's token: the call happened, so its record is written even if the agent has gone.
            await audit.AppendAsync(record, CancellationToken.None);
        }
        catch (ToolCallAuditException e)
        {
            LogAuditFailed(call.Scope.AgentId, call.RequestedName, e);
            throw new McpProtocolException("The gateway could not record this call in its audit, so it withholds the result. Try again later.", McpErrorCode.InternalError);
        }
    }

    [LoggerMessage(3420, LogLevel.Error, "The audit record of agent {Agent}'s call to {Tool} could not be written; the result was withheld")]
    private partial void LogAuditFailed(string agent, string tool, Exception exception);
}
