using System.Globalization;
using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Mcp;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>
/// A gated call's approval workflow seen as an MCP task: the task id is the approval id, and all state lives in the
/// workflow, so a task outlives the session and the node that created it and any node answers for it. A task is
/// visible only to the agent whose call it is (and only at an endpoint that offers the call's bundle).
/// </summary>
internal sealed partial class ApprovalTasks(WorkflowRuntime runtime, LiveConfiguration config, ILogger<ApprovalTasks> logger)
{
    public GatewayConfig Config => config.Current.Config;

    /// <summary>The approval that is task <paramref name="taskId"/> of this agent; null when there is none for it.</summary>
    public async Task<WorkflowSnapshot?> FindAsync(AgentScope scope, string taskId, CancellationToken cancellationToken)
    {
        if (!Guid.TryParseExact(taskId, "D", out var id) || await runtime.GetAsync(id, cancellationToken) is not { } workflow)
        {
            return null;
        }

        var request = workflow.State.Request;
        if (!string.Equals(request.AgentId, scope.AgentId, StringComparison.Ordinal)
            || (scope.Bundle is not null && !string.Equals(scope.Bundle, request.Bundle, StringComparison.Ordinal)))
        {
            // Answered like an unknown id, so ids cannot be probed; logged because it should not happen by accident.
            LogForeignTask(scope.AgentId, id, request.AgentId);
            return null;
        }

        return workflow;
    }

    public TaskInfo Describe(WorkflowSnapshot workflow)
    {
        var state = workflow.State;
        var decidedBy = string.Join(", ", state.DecidedBy);
        var (status, message) = state.Status switch
        {
            ApprovalStatus.Pending or ApprovalStatus.Escalated => (McpTaskStatus.Working, GatedCalls.Waiting(workflow)),
            ApprovalStatus.Approved or ApprovalStatus.Executing => (McpTaskStatus.Working,
                string.Create(CultureInfo.InvariantCulture, $"Approval {state.Id} was approved by {decidedBy}; the call is running.")),
            ApprovalStatus.Completed when state.Result is { } stored => IsError(stored)
                ? (McpTaskStatus.Failed, string.Create(CultureInfo.InvariantCulture, $"Approval {state.Id} was approved by {decidedBy}; the tool returned an error."))
                : (McpTaskStatus.Completed, string.Create(CultureInfo.InvariantCulture, $"Approval {state.Id} was approved by {decidedBy}; the call completed.")),

            // The refusal the held call would answer with: who decided, why, and the approval id.
            ApprovalStatus.Cancelled => (McpTaskStatus.Cancelled, GatedCalls.Final(workflow).Error),
            _ => (McpTaskStatus.Failed, GatedCalls.Final(workflow).Error),
        };

        // ttl null: the approval is kept (it is part of the audit trail), so the task is never deleted.
        return new TaskInfo(state.Id.ToString("D"), status, message, state.CreatedAt, workflow.UpdatedAt, Ttl: null, config.Current.Config.Policy.ProgressInterval);
    }

    /// <summary>
    /// Waits until the approval is final and answers exactly what the held call would have: the upstream's result, or
    /// the refusal naming who decided, why and the approval id. Like the held call, delivering it releases the call's
    /// business key, so the same call made again asks for a new approval.
    /// </summary>
    public async Task<CallToolResult> ResultAsync(WorkflowSnapshot workflow, CancellationToken cancellationToken)
    {
        var final = workflow.State.IsFinal ? workflow : await runtime.AwaitAsync(workflow.Id, static s => s.State.IsFinal, cancellationToken);
        await runtime.ReleaseBusinessKeyAsync(final.Id, CancellationToken.None);
        return GatedCalls.Final(final).Result;
    }

    /// <summary>
    /// Withdraws the approval on the agent's behalf (actor <c>agent:{id}</c>). A task already final, or approved and
    /// running, cannot be cancelled: the error says which.
    /// </summary>
    public async Task<WorkflowSnapshot> CancelAsync(AgentScope scope, WorkflowSnapshot workflow, CancellationToken cancellationToken)
    {
        RefuseCancel(workflow);
        var actor = "agent:" + scope.AgentId;
        var payload = JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["reason"] = "the agent cancelled the task" });

        // One key per agent and approval: a repeated tasks/cancel replays the first outcome instead of failing.
        var outcome = await runtime.SignalAsync(workflow.Id, new SignalRequest(SignalNames.Cancel, actor + ":cancel", actor, payload), cancellationToken);
        var after = await runtime.GetAsync(workflow.Id, cancellationToken) ?? workflow;
        if (!outcome.Accepted && after.State.Status != ApprovalStatus.Cancelled)
        {
            // A decision won the race: report the state it left.
            RefuseCancel(after);
            throw new McpProtocolException($"Cannot cancel task: {outcome.Message}", McpErrorCode.InvalidParams);
        }

        if (outcome.Accepted && !outcome.Replayed)
        {
            LogCancelled(workflow.Id, scope.AgentId);
        }

        return after;
    }

    /// <summary>Waits until what the agent would see of the task differs from <paramref name="last"/>.</summary>
    public async Task<TaskInfo> NextChangeAsync(Guid id, TaskInfo last, CancellationToken cancellationToken)
    {
        var changed = await runtime.AwaitAsync(id, s => Differs(Describe(s), last), cancellationToken);
        return Describe(changed);
    }

    private static bool Differs(TaskInfo now, TaskInfo last) =>
        !string.Equals(now.Status, last.Status, StringComparison.Ordinal) || !string.Equals(now.StatusMessage, last.StatusMessage, StringComparison.Ordinal);

    private void RefuseCancel(WorkflowSnapshot workflow)
    {
        var task = Describe(workflow);
        if (McpTaskStatus.IsTerminal(task.Status))
        {
            throw new McpProtocolException($"Cannot cancel task: already in terminal status '{task.Status}'.", McpErrorCode.InvalidParams);
        }

        if (!workflow.State.IsOpen)
        {
            throw new McpProtocolException(
                $"Cannot cancel task: approval {workflow.Id} was already approved by {string.Join(", ", workflow.State.DecidedBy)} and the call runs at most once.",
                McpErrorCode.InvalidParams);
        }
    }

    private static bool IsError(JsonElement stored) =>
        stored.ValueKind == JsonValueKind.Object && stored.TryGetProperty("isError", out var flag) && flag.ValueKind == JsonValueKind.True;

    [LoggerMessage(3610, LogLevel.Warning, "Agent {Agent} asked for task {Id}, which belongs to agent {Owner} or another bundle; answered as not found")]
    private partial void LogForeignTask(string agent, Guid id, string owner);

    [LoggerMessage(3611, LogLevel.Information, "Agent {Agent} cancelled its task {Id}; the approval is withdrawn")]
    private partial void LogCancelled(Guid id, string agent);
}
