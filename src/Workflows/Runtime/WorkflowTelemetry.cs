using System.Diagnostics;
using ApprovalEngine.Workflows.Approval;
using TraceContext = System.Diagnostics.ActivityContext;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>
/// The runtime's spans. A task runs under the trace of the agent call that started its workflow, whichever node
/// runs it: the request carries that call's W3C <c>traceparent</c>. Instruments are in <see cref="WorkflowMetrics"/>.
/// </summary>
public static class WorkflowTelemetry
{
    public const string Name = "ApprovalEngine.Workflows";

    internal static readonly ActivitySource Source = new(Name);

    /// <summary>A span for a task, a child of the call that started the workflow when its trace context is known.</summary>
    internal static Activity? StartTask(ClaimedTask task)
    {
        var parent = TraceContext.TryParse(task.Workflow.State.Request.TraceParent, null, out var origin) ? origin : default;
        var activity = Source.StartActivity($"workflow.task {task.Kind}", ActivityKind.Internal, parent);
        activity?.SetTag("approval.id", task.WorkflowId.ToString());
        activity?.SetTag("workflow.task.kind", task.Kind);
        activity?.SetTag("workflow.task.attempt", task.Attempt);
        return activity;
    }

    /// <summary>A span for a decision (in the deciding person's request).</summary>
    internal static Activity? StartSignal(Guid workflowId, string signal)
    {
        var activity = Source.StartActivity($"workflow.signal {signal}", ActivityKind.Internal);
        activity?.SetTag("approval.id", workflowId.ToString());
        return activity;
    }

    /// <summary>Labels a decision's span with the new status and links it to the trace of the call that asked.</summary>
    internal static void Label(Activity? span, ApprovalState after)
    {
        span?.SetTag("approval.status", ApprovalMachine.StatusName(after.Status));
        if (TraceContext.TryParse(after.Request.TraceParent, null, out var origin))
        {
            span?.AddLink(new ActivityLink(origin));
        }
    }
}
