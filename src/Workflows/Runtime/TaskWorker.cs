using System.Text.Json;
using ApprovalEngine.Workflows.Approval;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>
/// Claims due tasks (SKIP LOCKED, leased, fenced), runs them, and records the outcome. Timers apply their input to
/// the workflow; the execute activity moves the workflow approved → executing → completed | failed | in_doubt.
/// </summary>
public sealed partial class TaskWorker
{
    private readonly WorkflowRuntime _runtime;
    private readonly TaskQueue _queue;
    private readonly ActivityRegistry _activities;
    private readonly WakeupHub _hub;
    private readonly WorkflowRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly WakeSignal _slotFreed = new();
    private int _running;

    public TaskWorker(WorkflowRuntime runtime, NpgsqlDataSource dataSource, ActivityRegistry activities, WakeupHub hub, IOptions<WorkflowRuntimeOptions> options, ILogger<TaskWorker> logger)
    {
        _runtime = runtime;
        _queue = new TaskQueue(dataSource);
        _activities = activities;
        _hub = hub;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Tasks running on this node now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>
    /// The claim loop. <paramref name="stoppingToken"/> stops claiming; <paramref name="abortToken"/> cancels running work
    /// (a graceful stop lets it finish; its leases are then released or expire).
    /// </summary>
    internal async Task RunAsync(CancellationToken stoppingToken, CancellationToken abortToken)
    {
        var inFlight = new List<Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            _hub.TasksSignal.Reset();
            _slotFreed.Reset();
            var free = _options.MaxConcurrency - Running;
            var wait = _options.PollInterval;
            if (free > 0)
            {
                var want = Math.Min(free, _options.ClaimBatchSize);
                List<ClaimedTask> claimed;
                TimeSpan? nextDue;
                try
                {
                    (claimed, nextDue) = await _queue.ClaimAsync(want, _options.NodeId, _activities.Kinds, _options.LeaseDuration, stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e)
                {
                    // Never let one bad claim (database down, an unreadable row) stop this node's worker for good.
                    LogClaimFailed(e);
                    await Delay(TimeSpan.FromSeconds(1), stoppingToken);
                    continue;
                }

                foreach (var task in claimed)
                {
                    Interlocked.Increment(ref _running);
                    inFlight.Add(Task.Run(() => RunOneAsync(task, abortToken), CancellationToken.None));
                }

                inFlight.RemoveAll(t => t.IsCompleted);
                if (claimed.Count == want)
                {
                    continue;
                }

                if (nextDue is { } due && (wait == Timeout.InfiniteTimeSpan || due < wait))
                {
                    wait = due + TimeSpan.FromMilliseconds(1);
                }
            }

            var woken = free > 0 ? _hub.TasksSignal.WaitAsync(wait, stoppingToken) : _slotFreed.WaitAsync(wait, stoppingToken);
            try
            {
                await woken;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }

        await Task.WhenAll(inFlight);
    }

    private async Task RunOneAsync(ClaimedTask task, CancellationToken abortToken)
    {
        using var span = WorkflowTelemetry.StartTask(task);
        using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource(abortToken);
        using var stopHeartbeat = new CancellationTokenSource();
        var heartbeat = HeartbeatAsync(task.Fence, leaseLost, stopHeartbeat.Token);
        try
        {
            switch (task.Kind)
            {
                case TaskKinds.Deadline:
                    var stage = task.Args.TryGetProperty("stage", out var s) && s.TryGetInt32(out var n) ? n : 0;
                    await _runtime.ApplyAsync(task.WorkflowId, new DeadlineReached(stage), task.Fence, Done, (task.Workflow, task.DbNow), leaseLost.Token);
                    break;
                case TaskKinds.Execute:
                    await ExecuteAsync(task, leaseLost.Token);
                    break;
                default:
                    await RunActivityTaskAsync(task, leaseLost.Token);
                    break;
            }
        }
        catch (LeaseLostException)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, "lease lost");
            LogLeaseLost(task.Id, task.Kind);
        }
        catch (OperationCanceledException) when (abortToken.IsCancellationRequested)
        {
            // The node stops and its grace period is over. A task that may run again goes back to the queue now,
            // instead of after its lease expires; one that runs at most once is left to the reaper, which knows
            // whether it started.
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, "aborted by shutdown");
            if (!task.AtMostOnce)
            {
                await ReleaseAsync(task);
            }
        }
        catch (OperationCanceledException) when (leaseLost.IsCancellationRequested)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, "lease lost");
            LogLeaseLost(task.Id, task.Kind);
        }
        catch (Exception e)
        {
            // Infrastructure failure (database down, bug): the lease expires and the reaper decides what is safe.
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.GetType().Name);
            LogTaskCrashed(e, task.Id, task.Kind);
        }
        finally
        {
            await stopHeartbeat.CancelAsync();
            await heartbeat;
            Interlocked.Decrement(ref _running);
            _slotFreed.Set();
        }
    }

    private async Task ReleaseAsync(ClaimedTask task)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            if (await _queue.ReleaseAsync(task.Fence, timeout.Token))
            {
                LogReleased(task.Id, task.Kind);
            }
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            // Its lease expires and the reaper puts it back.
            LogReleaseFailed(e, task.Id, task.Kind);
        }
    }

    private async Task ExecuteAsync(ClaimedTask task, CancellationToken ct)
    {
        var (started, workflow) = await _runtime.ApplyAsync(
            task.WorkflowId,
            new ExecutionStarted(task.Attempt),
            task.Fence,
            t => t.Accepted ? null : new TaskCompletion("done", $"not executed: {t.Message}"),
            (task.Workflow, task.DbNow),
            ct);
        if (!started.Accepted)
        {
            return;
        }

        var result = await RunActivityAsync(task, workflow, ct);
        var retriesLeft = !task.AtMostOnce && task.Attempt < task.MaxAttempts;
        ApprovalInput input;
        switch (result)
        {
            case ActivityResult.Completed c:
                input = new ExecutionSucceeded(c.Output ?? NullJson);
                break;
            case ActivityResult.Failed { Retryable: true } f when retriesLeft:
                await RetryOrLoseAsync(task, f.Error, f.RetryAfter, ct);
                return;
            case ActivityResult.OutcomeUnknown u when retriesLeft:
                await RetryOrLoseAsync(task, u.Reason, after: null, ct);
                return;
            case ActivityResult.Failed f:
                input = new ExecutionFailed(f.Error);
                break;
            case ActivityResult.OutcomeUnknown u when task.AtMostOnce:
                input = new ExecutionOutcomeUnknown(u.Reason);
                break;
            case ActivityResult.OutcomeUnknown u:
                input = new ExecutionFailed($"gave up after {task.Attempt} attempts: {u.Reason}");
                break;
            default:
                throw new InvalidOperationException($"Unknown activity result {result.GetType().Name}.");
        }

        var final = input is ExecutionSucceeded ? "done" : "dead";
        var error = input switch { ExecutionFailed f => f.Error, ExecutionOutcomeUnknown u => u.Reason, _ => null };
        await _runtime.ApplyAsync(task.WorkflowId, input, task.Fence, _ => new TaskCompletion(final, error), (workflow, task.DbNow), ct);
    }

    private async Task RunActivityTaskAsync(ClaimedTask task, CancellationToken ct)
    {
        var result = await RunActivityAsync(task, task.Workflow, ct);
        var retriesLeft = task.Attempt < task.MaxAttempts;
        var updated = result switch
        {
            ActivityResult.Completed => await _queue.FinishAsync(task.Fence, "done", null, ct),
            ActivityResult.Failed { Retryable: true } f when retriesLeft => await _queue.RetryLaterAsync(task.Fence, f.Error, Options(task), f.RetryAfter, ct),
            ActivityResult.OutcomeUnknown u when retriesLeft && !task.AtMostOnce => await _queue.RetryLaterAsync(task.Fence, u.Reason, Options(task), ct),
            ActivityResult.Failed f => await _queue.FinishAsync(task.Fence, "dead", f.Error, ct),
            ActivityResult.OutcomeUnknown u => await _queue.FinishAsync(task.Fence, "dead", u.Reason, ct),
            _ => throw new InvalidOperationException($"Unknown activity result {result.GetType().Name}."),
        };
        if (!updated)
        {
            throw new LeaseLostException(task.Id);
        }
    }

    private async Task RetryOrLoseAsync(ClaimedTask task, string error, TimeSpan? after, CancellationToken ct)
    {
        if (!await _queue.RetryLaterAsync(task.Fence, error, Options(task), after, ct))
        {
            throw new LeaseLostException(task.Id);
        }

        _hub.TasksSignal.Set();
    }

    private async Task<ActivityResult> RunActivityAsync(ClaimedTask task, WorkflowSnapshot workflow, CancellationToken ct)
    {
        var activity = _activities.Find(task.Kind) ?? throw new InvalidOperationException($"No activity is registered for task kind '{task.Kind}'.");
        try
        {
            var result = await activity.RunAsync(new ActivityContext(task.Id, task.WorkflowId, task.Kind, task.Attempt, task.MaxAttempts, task.Args, workflow.State, workflow.Version), ct);
            if (result is not ActivityResult.Completed)
            {
                System.Diagnostics.Activity.Current?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, result.GetType().Name);
            }

            return result;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            // An exception says nothing about whether the effect happened.
            LogActivityThrew(e, task.Id, task.Kind);
            return ActivityResult.Unknown($"{e.GetType().Name}: {e.Message}");
        }
    }

    private async Task HeartbeatAsync(Fence fence, CancellationTokenSource leaseLost, CancellationToken stop)
    {
        var every = _options.LeaseDuration / 3;
        try
        {
            while (true)
            {
                await Task.Delay(every, stop);
                bool held;
                try
                {
                    held = await _queue.HeartbeatAsync(fence, _options.LeaseDuration, stop);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
                {
                    // A missed beat is fine while the lease lasts; the fenced completion is the real guard.
                    LogHeartbeatFailed(e, fence.TaskId);
                    continue;
                }

                if (!held)
                {
                    await leaseLost.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private static readonly JsonElement NullJson = JsonDocument.Parse("null").RootElement;

    private ActivityOptions Options(ClaimedTask task) => _activities.OptionsFor(task.Kind);

    private static TaskCompletion Done(Transition _) => new("done", null);

    private static async Task Delay(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(1140, LogLevel.Warning, "Claiming tasks failed; retrying")]
    private partial void LogClaimFailed(Exception exception);

    [LoggerMessage(1141, LogLevel.Warning, "Lost the lease on task {TaskId} ({Kind}); another node owns it now")]
    private partial void LogLeaseLost(long taskId, string kind);

    [LoggerMessage(1142, LogLevel.Error, "Task {TaskId} ({Kind}) failed unexpectedly; its lease will expire and the reaper will recover it")]
    private partial void LogTaskCrashed(Exception exception, long taskId, string kind);

    [LoggerMessage(1143, LogLevel.Warning, "Activity for task {TaskId} ({Kind}) threw; its outcome is unknown")]
    private partial void LogActivityThrew(Exception exception, long taskId, string kind);

    [LoggerMessage(1145, LogLevel.Information, "Task {TaskId} ({Kind}) was stopped by shutdown and put back in the queue for another node")]
    private partial void LogReleased(long taskId, string kind);

    [LoggerMessage(1146, LogLevel.Warning, "Task {TaskId} ({Kind}) was stopped by shutdown and could not be put back; the reaper will once its lease expires")]
    private partial void LogReleaseFailed(Exception exception, long taskId, string kind);

    [LoggerMessage(1144, LogLevel.Warning, "Heartbeat for task {TaskId} failed")]
    private partial void LogHeartbeatFailed(Exception exception, long taskId);
}
