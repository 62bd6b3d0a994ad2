using ApprovalEngine.Workflows.Approval;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>
/// Recovers tasks whose lease expired (the node died or hung). Any node runs it; no leader. Retry-safe tasks go back
/// to the queue. An at-most-once execute that had started ends the workflow in_doubt: it is never re-run blindly.
/// </summary>
public sealed partial class TaskReaper
{
    private readonly WorkflowRuntime _runtime;
    private readonly TaskQueue _queue;
    private readonly WorkflowRuntimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public TaskReaper(WorkflowRuntime runtime, NpgsqlDataSource dataSource, IOptions<WorkflowRuntimeOptions> options, TimeProvider time, ILogger<TaskReaper> logger)
    {
        _runtime = runtime;
        _queue = new TaskQueue(dataSource);
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    internal async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.ReaperInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await ReapOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The next tick tries again; a reaper that stops for good would strand expired tasks.
                    LogReapFailed(e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass. Returns how many expired tasks it dealt with.</summary>
    public async Task<int> ReapOnceAsync(CancellationToken cancellationToken = default)
    {
        var requeued = await _queue.RequeueExpiredAsync(cancellationToken);
        if (requeued > 0)
        {
            LogRequeued(requeued);
        }

        var stolen = await _queue.StealExpiredAsync($"{_options.NodeId}:reaper", _options.LeaseDuration, cancellationToken);
        foreach (var task in stolen)
        {
            try
            {
                await SettleAsync(task, cancellationToken);
            }
            catch (LeaseLostException)
            {
                // Another reaper pass got there first; nothing to do.
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One task that cannot be settled must not strand the others; its stolen lease expires and it comes back.
                LogSettleFailed(e, task.Fence.TaskId);
            }
        }

        return requeued + stolen.Count;
    }

    private async Task SettleAsync(ExpiredTask task, CancellationToken ct)
    {
        if (task.Kind != TaskKinds.Execute)
        {
            var why = task.AtMostOnce ? "lease expired; an at-most-once task is not retried" : $"lease expired after {task.Attempt} attempts";
            await _queue.FinishAsync(task.Fence, "dead", why, ct);
            LogDead(task.Fence.TaskId, task.Kind, why);
            return;
        }

        var workflow = await _runtime.GetAsync(task.WorkflowId, ct) ?? throw new WorkflowNotFoundException(task.WorkflowId);
        switch (workflow.State.Status)
        {
            case ApprovalStatus.Approved:
                // The node died before it recorded execution_started: the call never went out, so running it is safe.
                await _queue.ReleaseAsync(task.Fence, ct);
                LogRequeued(1);
                break;
            case ApprovalStatus.Executing:
                ApprovalInput input = task.AtMostOnce
                    ? new ExecutionOutcomeUnknown("the node running the call stopped mid-call (its lease expired); it may or may not have run")
                    : new ExecutionFailed($"gave up after {task.Attempt} attempts: the node running the call stopped (lease expired)");
                await _runtime.ApplyAsync(task.WorkflowId, input, task.Fence, _ => new TaskCompletion("dead", "lease expired mid-call"), known: null, ct);
                LogSettled(task.WorkflowId, input.GetType().Name);
                break;
            default:
                await _queue.FinishAsync(task.Fence, "done", $"workflow already {ApprovalMachine.StatusName(workflow.State.Status)}", ct);
                break;
        }
    }

    [LoggerMessage(1160, LogLevel.Warning, "Requeued {Count} task(s) whose lease expired")]
    private partial void LogRequeued(int count);

    [LoggerMessage(1161, LogLevel.Warning, "Task {TaskId} ({Kind}) is dead: {Reason}")]
    private partial void LogDead(long taskId, string kind, string reason);

    [LoggerMessage(1162, LogLevel.Error, "Workflow {WorkflowId}: execution lost its node mid-call; recorded {Input}")]
    private partial void LogSettled(Guid workflowId, string input);

    [LoggerMessage(1164, LogLevel.Error, "Could not settle expired task {TaskId}; will retry")]
    private partial void LogSettleFailed(Exception exception, long taskId);

    [LoggerMessage(1163, LogLevel.Warning, "Reaper pass failed; will retry")]
    private partial void LogReapFailed(Exception exception);
}
