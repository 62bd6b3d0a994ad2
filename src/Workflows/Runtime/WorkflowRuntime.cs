using System.Text.Json;
using ApprovalEngine.Workflows.Approval;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>
/// The durable approval runtime's API: start (idempotent by business key), signal (idempotent by key), get, await,
/// query, history and chain verification. Safe to use from any node; all coordination goes through PostgreSQL.
/// </summary>
public sealed partial class WorkflowRuntime
{
    private readonly WorkflowStore _store;
    private readonly WakeupHub _hub;
    private readonly WorkflowRuntimeOptions _options;
    private readonly WorkflowMetrics _metrics;
    private readonly ILogger _logger;

    public WorkflowRuntime(
        NpgsqlDataSource dataSource, WakeupHub hub, ActivityRegistry activities, IOptions<WorkflowRuntimeOptions> options, WorkflowMetrics metrics, ILogger<WorkflowRuntime> logger)
    {
        _store = new WorkflowStore(dataSource, activities.OptionsFor);
        _hub = hub;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
    }

    internal WorkflowStore Store => _store;

    /// <summary>
    /// Start an approval workflow, or return the one already active under <paramref name="businessKey"/>
    /// (a repeated call joins it instead of creating a second approval).
    /// </summary>
    /// <exception cref="InvalidWorkflowRequestException">The request breaks the approval rules.</exception>
    public async Task<StartResult> StartAsync(string businessKey, ApprovalRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(businessKey);
        for (var attempt = 0; ; attempt++)
        {
            var (existing, now) = await _store.ReadByKeyAsync(businessKey, cancellationToken);
            if (existing is not null)
            {
                return new StartResult(existing, Created: false);
            }

            var start = ApprovalMachine.Start(Guid.CreateVersion7(), request, now);
            if (!start.Accepted)
            {
                throw new InvalidWorkflowRequestException(start.Message ?? "The approval request is invalid.");
            }

            try
            {
                var created = await _store.InsertAsync(businessKey, start, cancellationToken);
                _hub.Publish(created.Id, tasksCreated: true);
                LogStarted(created.Id, request.AgentId, request.Tool);
                return new StartResult(created, Created: true);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && attempt < 3)
            {
                // Another node started the same business key between our read and our insert: join it.
            }
        }
    }

    /// <summary>Send a decision (approve, deny, cancel). Never throws for business outcomes: the answer says what happened.</summary>
    public async Task<SignalOutcome> SignalAsync(Guid workflowId, SignalRequest signal, CancellationToken cancellationToken = default)
    {
        var (input, error) = SignalParser.Parse(signal);
        if (input is null)
        {
            return error!;
        }

        using var span = WorkflowTelemetry.StartSignal(workflowId, signal.Name);

        while (true)
        {
            var read = await _store.ReadAsync(workflowId, signal.IdempotencyKey, cancellationToken);
            if (read is null)
            {
                return SignalOutcome.Refuse(SignalError.UnknownWorkflow, $"Workflow {workflowId} does not exist.");
            }

            if (read.Signal is { } stored)
            {
                return string.Equals(stored.Name, signal.Name, StringComparison.Ordinal) && string.Equals(stored.Actor, signal.Actor, StringComparison.OrdinalIgnoreCase)
                    ? stored.Outcome with { Replayed = true }
                    : SignalOutcome.Refuse(SignalError.IdempotencyKeyReused,
                        $"Idempotency key '{signal.IdempotencyKey}' was already used for '{stored.Name}' by {stored.Actor}.", read.Snapshot.State);
            }

            var transition = ApprovalMachine.Apply(read.Snapshot.State, input, read.DbNow);
            var outcome = ToOutcome(transition);
            try
            {
                await _store.WriteTransitionAsync(
                    read.Snapshot, transition, checkDeadline: transition.Accepted, fence: null, new SignalWrite(signal, outcome), completion: null, cancellationToken);
            }
            catch (ConcurrencyConflictException)
            {
                continue;
            }

            if (transition.Accepted)
            {
                _metrics.Decided(span, read.Snapshot.State, transition.State!);
                _hub.Publish(workflowId, tasksCreated: transition.Tasks.Any(t => t is ScheduleTask));
                LogSignalApplied(workflowId, signal.Name, outcome.Status?.ToString() ?? "");
            }

            return outcome;
        }
    }

    public async Task<WorkflowSnapshot?> GetAsync(Guid workflowId, CancellationToken cancellationToken = default) =>
        (await _store.ReadAsync(workflowId, null, cancellationToken))?.Snapshot;

    /// <summary>
    /// Wait, from any node, until the workflow satisfies <paramref name="until"/> (default: it is final).
    /// Woken by NOTIFY from whichever node changed it, with the poll interval as a safety net.
    /// </summary>
    public async Task<WorkflowSnapshot> AwaitAsync(Guid workflowId, Func<WorkflowSnapshot, bool>? until = null, CancellationToken cancellationToken = default)
    {
        until ??= static s => s.State.IsFinal;
        while (true)
        {
            // Register before reading, so a change committed between the read and the wait still wakes us.
            using var wake = _hub.Register(workflowId);
            var snapshot = await GetAsync(workflowId, cancellationToken) ?? throw new WorkflowNotFoundException(workflowId);
            if (until(snapshot))
            {
                return snapshot;
            }

            await wake.WaitAsync(_options.PollInterval, cancellationToken);
        }
    }

    /// <summary>Release the business key of a final workflow, so the same call can start a new approval.</summary>
    public async Task<bool> ReleaseBusinessKeyAsync(Guid workflowId, CancellationToken cancellationToken = default)
    {
        await using var cmd = _store.DataSource.CreateCommand(
            "UPDATE wf_instance SET key_active = false WHERE id = $1 AND key_active AND state IN ('denied', 'expired', 'cancelled', 'completed', 'failed', 'in_doubt')");
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = workflowId });
        return await cmd.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task<WorkflowPage> QueryAsync(WorkflowQuery query, CancellationToken cancellationToken = default) =>
        WorkflowQueries.QueryAsync(_store.DataSource, query, cancellationToken);

    /// <summary>The workflows among <paramref name="ids"/> that exist, in no particular order.</summary>
    public Task<IReadOnlyList<WorkflowSnapshot>> GetManyAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken = default) =>
        WorkflowQueries.GetManyAsync(_store.DataSource, ids, cancellationToken);

    /// <summary>A workflow's history with its recomputed chain, from one read; null for an unknown workflow.</summary>
    public Task<VerifiedHistory?> GetVerifiedHistoryAsync(Guid workflowId, CancellationToken cancellationToken = default) =>
        HistoryChain.ReadVerifiedAsync(_store.DataSource, workflowId, cancellationToken);

    /// <summary>
    /// Calls <paramref name="changed"/> with the id of every workflow that changes, on this node or (by NOTIFY) on
    /// another, and with null when changes may have been missed (the wakeup listener reconnected): re-read everything.
    /// NOTIFY is a hint, so a subscriber that must not miss a change also re-reads now and then. The callback runs on
    /// the thread that saw the change: it must not block or throw. Dispose the result to stop.
    /// </summary>
    public IDisposable WatchChanges(Action<Guid?> changed) => _hub.Subscribe(changed);

    public Task<IReadOnlyList<HistoryEntry>> GetHistoryAsync(Guid workflowId, CancellationToken cancellationToken = default) =>
        HistoryChain.ReadAsync(_store.DataSource, workflowId, cancellationToken);

    /// <summary>Recompute one workflow's hash chain from its rows.</summary>
    public Task<ChainVerification> VerifyAsync(Guid workflowId, CancellationToken cancellationToken = default) =>
        HistoryChain.VerifyAsync(_store.DataSource, workflowId, cancellationToken);

    /// <summary>Recompute every chain of workflows created in the range (all when null), streaming one result per workflow.</summary>
    public IAsyncEnumerable<ChainVerification> VerifyAllAsync(DateTimeOffset? createdFrom = null, DateTimeOffset? createdBefore = null, CancellationToken cancellationToken = default) =>
        HistoryChain.VerifyAllAsync(_store.DataSource, createdFrom, createdBefore, cancellationToken);

    /// <summary>
    /// Apply an internal input (timer, execution result) on behalf of a claimed task, fenced by its lease.
    /// <paramref name="known"/> saves a read when the caller already holds the current snapshot; a stale one costs a retry.
    /// </summary>
    internal async Task<(Transition Transition, WorkflowSnapshot After)> ApplyAsync(
        Guid workflowId, ApprovalInput input, Fence fence, Func<Transition, TaskCompletion?> completion,
        (WorkflowSnapshot Snapshot, DateTimeOffset Now)? known, CancellationToken cancellationToken)
    {
        while (true)
        {
            WorkflowSnapshot before;
            DateTimeOffset now;
            if (known is { } k)
            {
                (before, now) = k;
                known = null;
            }
            else
            {
                var read = await _store.ReadAsync(workflowId, null, cancellationToken) ?? throw new WorkflowNotFoundException(workflowId);
                (before, now) = (read.Snapshot, read.DbNow);
            }

            var transition = ApprovalMachine.Apply(before.State, input, now);
            int version;
            try
            {
                version = await _store.WriteTransitionAsync(before, transition, checkDeadline: false, fence, signal: null, completion(transition), cancellationToken);
            }
            catch (ConcurrencyConflictException)
            {
                continue;
            }

            if (!transition.Accepted)
            {
                return (transition, before);
            }

            _hub.Publish(workflowId, tasksCreated: transition.Tasks.Any(t => t is ScheduleTask));
            return (transition, before with { Version = version, State = transition.State! });
        }
    }

    private static SignalOutcome ToOutcome(Transition transition)
    {
        var state = transition.State!;
        if (transition.Accepted)
        {
            var message = state.Status switch
            {
                ApprovalStatus.Approved => $"Approved by {string.Join(", ", state.DecidedBy)}.",
                ApprovalStatus.Denied => $"Denied by {string.Join(", ", state.DecidedBy)}{(state.Reason is null ? "" : $": {state.Reason}")}.",
                ApprovalStatus.Cancelled => $"Cancelled by {string.Join(", ", state.DecidedBy)}.",
                _ => $"Vote recorded ({state.Votes.Count} of {state.Request.Quorum}).",
            };
            return new SignalOutcome { Accepted = true, Message = message, Status = state.Status, DecidedBy = state.DecidedBy };
        }

        var error = transition.Code switch
        {
            RejectionCode.InvalidRequest => SignalError.InvalidRequest,
            RejectionCode.AlreadyDecided => SignalError.AlreadyDecided,
            RejectionCode.DeadlinePassed => SignalError.DeadlinePassed,
            RejectionCode.NotAuthorized => SignalError.NotAuthorized,
            RejectionCode.SelfApproval => SignalError.SelfApproval,
            RejectionCode.AlreadyVoted => SignalError.AlreadyVoted,
            RejectionCode.EditNotAllowed => SignalError.EditNotAllowed,
            RejectionCode.EditConflict => SignalError.EditConflict,
            _ => SignalError.IllegalTransition,
        };
        return SignalOutcome.Refuse(error, transition.Message ?? "The signal was not applied.", state);
    }

    [LoggerMessage(1100, LogLevel.Information, "Approval workflow {WorkflowId} started for agent {AgentId}, tool {Tool}")]
    private partial void LogStarted(Guid workflowId, string agentId, string tool);

    [LoggerMessage(1101, LogLevel.Information, "Signal {Signal} applied to workflow {WorkflowId}; status {Status}")]
    private partial void LogSignalApplied(Guid workflowId, string signal, string status);
}

/// <summary>Turns a signal request into a state-machine input, or a typed refusal naming the bad field.</summary>
internal static class SignalParser
{
    public static (ApprovalInput? Input, SignalOutcome? Error) Parse(SignalRequest signal)
    {
        if (string.IsNullOrWhiteSpace(signal.IdempotencyKey) || signal.IdempotencyKey.Length > 200)
        {
            return Malformed("idempotency key must be 1-200 characters");
        }

        if (string.IsNullOrWhiteSpace(signal.Actor))
        {
            return Malformed("actor must not be empty");
        }

        if (signal.Payload is { } payload && payload.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined))
        {
            return Malformed($"payload must be a JSON object, not {payload.ValueKind.ToString().ToLowerInvariant()}");
        }

        var fields = signal.Payload is { ValueKind: JsonValueKind.Object } p ? p : default;
        switch (signal.Name)
        {
            case SignalNames.Approve:
                if (Unknown(fields, "comment", "editedArguments", "editedArgumentsDigest") is { } extra1)
                {
                    return Malformed($"unknown field '{extra1}' in approve payload");
                }

                if (!TryString(fields, "comment", out var comment) || !TryString(fields, "editedArgumentsDigest", out var digest))
                {
                    return Malformed("'comment' and 'editedArgumentsDigest' must be strings");
                }

                JsonElement? edited = fields.ValueKind == JsonValueKind.Object && fields.TryGetProperty("editedArguments", out var e) && e.ValueKind != JsonValueKind.Null
                    ? e.Clone()
                    : null;
                if (edited is { ValueKind: not JsonValueKind.Object })
                {
                    return Malformed("'editedArguments' must be a JSON object");
                }

                return (new Approve(signal.Actor, edited, digest, comment), null);
            case SignalNames.Deny or SignalNames.Cancel:
                if (Unknown(fields, "reason") is { } extra2)
                {
                    return Malformed($"unknown field '{extra2}' in {signal.Name} payload");
                }

                if (!TryString(fields, "reason", out var reason))
                {
                    return Malformed("'reason' must be a string");
                }

                return (signal.Name == SignalNames.Deny ? new Deny(signal.Actor, reason) : new Cancel(signal.Actor, reason), null);
            default:
                return (null, SignalOutcome.Refuse(SignalError.UnknownSignal,
                    $"Unknown signal '{signal.Name}'; expected {SignalNames.Approve}, {SignalNames.Deny} or {SignalNames.Cancel}."));
        }
    }

    private static (ApprovalInput?, SignalOutcome?) Malformed(string problem) =>
        (null, SignalOutcome.Refuse(SignalError.MalformedPayload, $"Malformed signal: {problem}."));

    private static string? Unknown(JsonElement fields, params string[] allowed)
    {
        if (fields.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var property in fields.EnumerateObject())
        {
            if (!allowed.Contains(property.Name, StringComparer.Ordinal))
            {
                return property.Name;
            }
        }

        return null;
    }

    private static bool TryString(JsonElement fields, string name, out string? value)
    {
        value = null;
        if (fields.ValueKind != JsonValueKind.Object || !fields.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        value = v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return v.ValueKind == JsonValueKind.String;
    }
}
