using System.Globalization;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Workflows.Approval;

/// <summary>Reports from the execute activity about the approved upstream call.</summary>
public static partial class ApprovalMachine
{
    private static Transition ApplyExecutionStarted(ApprovalState state, ExecutionStarted input)
    {
        var retry = state.Status == ApprovalStatus.Executing;
        if (retry && !state.Request.ToolIdempotent)
        {
            // A second start means the first attempt may have reached the upstream: running it again
            // could repeat a side effect the approvers agreed to only once.
            return Transition.Reject(state, RejectionCode.IllegalTransition, string.Create(CultureInfo.InvariantCulture,
                $"Tool '{state.Request.Tool}' is not idempotent and attempt {state.ExecutionAttempts} already started; it runs at most once."));
        }

        if (!retry && state.Status != ApprovalStatus.Approved)
        {
            return IllegalExecution(state, input, "only an approved request can start executing");
        }

        var next = state with { Status = ApprovalStatus.Executing, ExecutionAttempts = input.Attempt };
        var body = new JsonObject
        {
            ["attempt"] = input.Attempt,
            ["retry"] = retry,
            ["argumentsDigest"] = state.EditedArgumentsDigest ?? state.Request.ArgumentsDigest,
        };

        // No notify: cards show "approved" until the outcome is known, which avoids a card edit per attempt.
        return Transition.Accept(next, [new HistoryEvent("execution_started", body, SystemActor)], []);
    }

    private static Transition ApplyExecutionSucceeded(ApprovalState state, ExecutionSucceeded input, DateTimeOffset now)
    {
        if (state.Status != ApprovalStatus.Executing)
        {
            return IllegalExecution(state, input, "only an executing request can complete");
        }

        var next = state with { Status = ApprovalStatus.Completed, Result = input.Result };
        var body = new JsonObject { ["attempt"] = state.ExecutionAttempts };
        return Accepted(next, "execution_succeeded", body, now);
    }

    private static Transition ApplyExecutionFailed(ApprovalState state, ExecutionFailed input, DateTimeOffset now)
    {
        // From Approved: the call never started (for example the upstream is unknown), so failing is certain.
        if (state.Status is not (ApprovalStatus.Executing or ApprovalStatus.Approved))
        {
            return IllegalExecution(state, input, "only an approved or executing request can fail");
        }

        var next = state with { Status = ApprovalStatus.Failed, Error = input.Error };
        var body = new JsonObject
        {
            ["error"] = input.Error,
            ["attempt"] = state.ExecutionAttempts,
            ["started"] = state.Status == ApprovalStatus.Executing,
        };
        return Accepted(next, "execution_failed", body, now);
    }

    private static Transition ApplyExecutionOutcomeUnknown(ApprovalState state, ExecutionOutcomeUnknown input, DateTimeOffset now)
    {
        if (state.Status != ApprovalStatus.Executing)
        {
            return IllegalExecution(state, input, "only an executing request can end in doubt");
        }

        var next = state with { Status = ApprovalStatus.InDoubt, Reason = input.Reason, Error = input.Reason };
        var body = new JsonObject { ["reason"] = input.Reason, ["attempt"] = state.ExecutionAttempts };
        return Accepted(next, "execution_in_doubt", body, now);
    }

    private static Transition Accepted(ApprovalState next, string eventType, JsonObject body, DateTimeOffset now) =>
        Transition.Accept(next, [new HistoryEvent(eventType, body, SystemActor)], [.. NotifyTasks(next, now)]);

    private static Transition IllegalExecution(ApprovalState state, ApprovalInput input, string rule) =>
        Transition.Reject(state, RejectionCode.IllegalTransition,
            $"{input.GetType().Name} is not valid while the request is {StatusName(state.Status)}: {rule}.");
}
