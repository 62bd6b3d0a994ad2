using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Activities;

/// <summary>
/// The <c>execute</c> kind: run the approved upstream call. At most once by default; a task for a tool marked
/// idempotent is scheduled retry-safe by the workflow, and then these retry settings apply.
/// </summary>
public sealed class ExecuteToolActivity(IToolInvoker invoker) : IActivity
{
    public string Kind => TaskKinds.Execute;

    public ActivityOptions Options { get; } = new()
    {
        AtMostOnce = true,
        MaxAttempts = 5,
        BaseDelay = TimeSpan.FromSeconds(1),
        MaxDelay = TimeSpan.FromMinutes(1),
    };

    public Task<ActivityResult> RunAsync(ActivityContext context, CancellationToken cancellationToken)
    {
        var request = context.Workflow.Request;
        var invocation = new ToolInvocation(
            context.WorkflowId,
            request.AgentId,
            request.Bundle,
            request.Upstream,
            request.Tool,
            context.Workflow.EffectiveArguments,
            context.Attempt,
            IdempotencyKey: $"{context.WorkflowId:N}:execute");
        return invoker.InvokeAsync(invocation, cancellationToken);
    }
}
