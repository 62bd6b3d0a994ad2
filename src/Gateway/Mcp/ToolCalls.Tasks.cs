using System.Globalization;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>The gated call of a task-augmented tools/call: the approval becomes the task instead of holding the request.</summary>
internal sealed partial class ToolCalls
{
    /// <summary>
    /// Starts (or joins) the approval and hands it to <paramref name="task"/>; <see cref="McpTasks"/> answers the agent with
    /// the task, so the result returned here is never sent. The audit records the call as pending with its approval id;
    /// the approval's own history records the decision and the execution.
    /// </summary>
    private async ValueTask<CallToolResult> StartTaskAsync(CallFacts call, PolicyDecision decision, TaskAugmentation task, CancellationToken cancellationToken)
    {
        StartResult start;
        try
        {
            start = await gated.StartAsync(call, decision, cancellationToken);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidWorkflowRequestException)
        {
            // As for a held call: no durable approval, no way to ask a human, so the call is refused (a finished, failed task).
            LogApprovalUnavailable(call.Scope.AgentId, call.RequestedName, e);
            database.ReportFailure(e);
            await audit.RecordRefusalAsync(call, ToolCallOutcome.Denied, "the approval could not be started: " + e.Message);
            return ErrorResult($"'{call.RequestedName}' needs approval (rule '{decision.RuleName}'), and the approval could not be started, so the call was not run. Try again later.");
        }

        call.ApprovalId = start.Workflow.Id;
        task.Approval = start.Workflow;
        await audit.RecordAsync(call, ToolCallOutcome.Pending, string.Create(CultureInfo.InvariantCulture,
            $"answered with task {start.Workflow.Id} ({(start.Created ? "new" : "joined")} approval, {ApprovalMachine.StatusName(start.Workflow.State.Status)})"));
        return new CallToolResult { Content = [] };
    }
}
