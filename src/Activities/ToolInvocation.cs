using System.Text.Json;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Activities;

/// <summary>One approved upstream call, with the arguments that were approved (edited ones, if an approver edited them).</summary>
public sealed record ToolInvocation(
    Guid ApprovalId, string AgentId, string Bundle, string Upstream, string Tool, JsonElement Arguments, int Attempt, string IdempotencyKey);

/// <summary>
/// Runs an approved call upstream. The gateway supplies the real one (with identity mediation); tests supply their own.
/// Report <see cref="ActivityResult.Failure"/> with retryable only when the call certainly did not reach the upstream,
/// and <see cref="ActivityResult.Unknown"/> when it may have.
/// </summary>
public interface IToolInvoker
{
    Task<ActivityResult> InvokeAsync(ToolInvocation invocation, CancellationToken cancellationToken);
}

/// <summary>An <see cref="IToolInvoker"/> from a delegate.</summary>
public sealed class DelegateToolInvoker(Func<ToolInvocation, CancellationToken, Task<ActivityResult>> invoke) : IToolInvoker
{
    public Task<ActivityResult> InvokeAsync(ToolInvocation invocation, CancellationToken cancellationToken) => invoke(invocation, cancellationToken);
}
