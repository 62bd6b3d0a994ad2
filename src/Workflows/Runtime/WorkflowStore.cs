using System.Text.Json;
using ApprovalEngine.Workflows.Approval;
using Npgsql;
using NpgsqlTypes;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>A task lease: every write on behalf of a claimed task is fenced by it.</summary>
internal readonly record struct Fence(long TaskId, Guid LeaseToken);

/// <summary>What happens to the fenced task in the same transaction as the workflow transition.</summary>
internal sealed record TaskCompletion(string State, string? Error);

internal sealed record SignalWrite(SignalRequest Request, SignalOutcome Outcome);

/// <summary>A read of one workflow: its state, the database clock, and a stored signal outcome for the key asked about.</summary>
internal sealed record WorkflowRead(WorkflowSnapshot Snapshot, DateTimeOffset DbNow, StoredSignal? Signal);

internal sealed record StoredSignal(string Name, string Actor, SignalOutcome Outcome);

internal sealed class ConcurrencyConflictException() : Exception("The workflow changed concurrently; re-read and retry.");

internal sealed class LeaseLostException(long taskId) : Exception($"The lease on task {taskId} was lost.");

/// <summary>
/// SQL for workflows. Each transition is one <see cref="NpgsqlBatch"/>, which PostgreSQL runs as one implicit
/// transaction: wf_guard (row lock + version CAS + deadline + lease fence), signal, instance, events, tasks.
/// </summary>
internal sealed class WorkflowStore(NpgsqlDataSource dataSource, Func<string, ActivityOptions> taskOptions)
{
    internal const string Kind = "approval";

    private const string ReadSql = """
        SELECT i.business_key, i.version, i.data, i.updated_at, clock_timestamp(), s.name, s.actor, s.outcome
        FROM wf_instance i
        LEFT JOIN wf_signal s ON s.wf_id = i.id AND s.idempotency_key = $2
        WHERE i.id = $1
        """;

    private const string ReadByKeySql = """
        SELECT i.id, i.business_key, i.version, i.data, i.updated_at
        FROM wf_instance i WHERE i.kind = $1 AND i.business_key = $2 AND i.key_active
        """;

    private const string InsertInstanceSql = """
        INSERT INTO wf_instance (id, kind, business_key, state, version, data, agent_id, bundle, upstream, tool, rule, deciders, deadline_at, approvers)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        """;

    private const string GuardSql = "SELECT wf_guard($1, $2, $3, $4, $5)";

    private const string InsertSignalSql = """
        INSERT INTO wf_signal (wf_id, idempotency_key, name, actor, payload, outcome) VALUES ($1, $2, $3, $4, $5, $6)
        """;

    private const string UpdateInstanceSql = """
        UPDATE wf_instance SET state = $2, version = $3, data = $4, deciders = $5, deadline_at = $6, updated_at = now()
        WHERE id = $1
        """;

    private const string InsertEventSql = """
        INSERT INTO wf_event (wf_id, seq, type, body, actor, recorded_at, prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, now(), '\x'::bytea, '\x'::bytea)
        """;

    private const string InsertTaskSql = """
        INSERT INTO wf_task (wf_id, kind, dedup_key, at_most_once, run_at, max_attempts, args)
        VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (dedup_key) DO NOTHING
        """;

    private const string CancelTasksSql = """
        UPDATE wf_task SET state = 'cancelled', finished_at = now() WHERE wf_id = $1 AND kind = $2 AND state = 'ready'
        """;

    private const string CompleteTaskSql = """
        UPDATE wf_task SET state = $3, last_error = $4, finished_at = now(), lease_until = NULL
        WHERE id = $1 AND lease_token = $2 AND state = 'running'
        """;

    public NpgsqlDataSource DataSource => dataSource;

    /// <summary>Test seam: lets a test add a failing statement to a transition batch (fault injection).</summary>
    internal Action<NpgsqlBatch>? BatchInterceptor { get; set; }

    public async Task<WorkflowRead?> ReadAsync(Guid id, string? idempotencyKey, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(ReadSql);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)idempotencyKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var snapshot = new WorkflowSnapshot(
            id,
            reader.GetString(0),
            reader.GetInt32(1),
            DeserializeState(reader.GetString(2)),
            reader.GetFieldValue<DateTimeOffset>(3));
        var now = reader.GetFieldValue<DateTimeOffset>(4);
        StoredSignal? signal = reader.IsDBNull(5)
            ? null
            : new StoredSignal(reader.GetString(5), reader.GetString(6), JsonSerializer.Deserialize<SignalOutcome>(reader.GetString(7), WorkflowJson.Options)!);
        return new WorkflowRead(snapshot, now, signal);
    }

    public async Task<(WorkflowSnapshot? Existing, DateTimeOffset DbNow)> ReadByKeyAsync(string businessKey, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(ReadByKeySql) { Parameters = { new() { Value = Kind }, new() { Value = businessKey } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT clock_timestamp()"));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        WorkflowSnapshot? existing = null;
        if (await reader.ReadAsync(ct))
        {
            existing = new WorkflowSnapshot(
                reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), DeserializeState(reader.GetString(3)), reader.GetFieldValue<DateTimeOffset>(4));
        }

        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        return (existing, reader.GetFieldValue<DateTimeOffset>(0));
    }

    /// <summary>Insert a new workflow with its first events and tasks. Throws a unique violation when the key is taken.</summary>
    public async Task<WorkflowSnapshot> InsertAsync(string businessKey, Transition start, CancellationToken ct)
    {
        var state = start.State!;
        var version = start.Events.Count;
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(InsertInstanceSql)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid> { TypedValue = state.Id },
                new() { Value = Kind },
                new() { Value = businessKey },
                new() { Value = ApprovalMachine.StatusName(state.Status) },
                new NpgsqlParameter<int> { TypedValue = version },
                Jsonb(SerializeState(state)),
                new() { Value = state.Request.AgentId },
                new() { Value = state.Request.Bundle },
                new() { Value = state.Request.Upstream },
                new() { Value = state.Request.Tool },
                new() { Value = (object?)state.Request.Rule ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
                new NpgsqlParameter<string[]> { TypedValue = Deciders(state) },
                new NpgsqlParameter<DateTimeOffset> { TypedValue = state.DeadlineAt },
                new NpgsqlParameter<string[]> { TypedValue = Approvers(state.Request) },
            },
        });
        AddEventsAndTasks(batch, state, 0, start);
        BatchInterceptor?.Invoke(batch);
        await batch.ExecuteNonQueryAsync(ct);
        return new WorkflowSnapshot(state.Id, businessKey, version, state, state.CreatedAt);
    }

    /// <summary>
    /// Write one transition as one batch. Throws <see cref="ConcurrencyConflictException"/> when the version moved,
    /// the deadline passed, or the signal key was taken concurrently (the caller re-reads), and
    /// <see cref="LeaseLostException"/> when the fence no longer holds.
    /// </summary>
    public async Task<int> WriteTransitionAsync(
        WorkflowSnapshot before, Transition transition, bool checkDeadline, Fence? fence, SignalWrite? signal, TaskCompletion? completion, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(GuardSql)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid> { TypedValue = before.Id },
                new NpgsqlParameter<int> { TypedValue = before.Version },
                new NpgsqlParameter<bool> { TypedValue = checkDeadline },
                new() { Value = fence is { } f1 ? f1.TaskId : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint },
                new() { Value = fence is { } f2 ? f2.LeaseToken : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid },
            },
        });

        if (signal is not null)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(InsertSignalSql)
            {
                Parameters =
                {
                    new NpgsqlParameter<Guid> { TypedValue = before.Id },
                    new() { Value = signal.Request.IdempotencyKey },
                    new() { Value = signal.Request.Name },
                    new() { Value = signal.Request.Actor },
                    Jsonb(signal.Request.Payload is { } p ? p.GetRawText() : null),
                    Jsonb(JsonSerializer.Serialize(signal.Outcome, WorkflowJson.Options)),
                },
            });
        }

        var version = before.Version;
        if (transition.Accepted)
        {
            var state = transition.State!;
            version += transition.Events.Count;
            batch.BatchCommands.Add(new NpgsqlBatchCommand(UpdateInstanceSql)
            {
                Parameters =
                {
                    new NpgsqlParameter<Guid> { TypedValue = before.Id },
                    new() { Value = ApprovalMachine.StatusName(state.Status) },
                    new NpgsqlParameter<int> { TypedValue = version },
                    Jsonb(SerializeState(state)),
                    new NpgsqlParameter<string[]> { TypedValue = Deciders(state) },
                    new NpgsqlParameter<DateTimeOffset> { TypedValue = state.DeadlineAt },
                },
            });
            AddEventsAndTasks(batch, state, before.Version, transition);
        }

        if (fence is { } fenced && completion is not null)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(CompleteTaskSql)
            {
                Parameters =
                {
                    new NpgsqlParameter<long> { TypedValue = fenced.TaskId },
                    new NpgsqlParameter<Guid> { TypedValue = fenced.LeaseToken },
                    new() { Value = completion.State },
                    new() { Value = (object?)completion.Error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
                },
            });
        }

        BatchInterceptor?.Invoke(batch);
        try
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState is SqlStates.VersionMismatch or SqlStates.DeadlinePassed
            || (e.SqlState == PostgresErrorCodes.UniqueViolation && e.TableName == "wf_signal"))
        {
            throw new ConcurrencyConflictException();
        }
        catch (PostgresException e) when (e.SqlState == SqlStates.LeaseLost)
        {
            throw new LeaseLostException(fence?.TaskId ?? 0);
        }
        catch (PostgresException e) when (e.SqlState == SqlStates.NotFound)
        {
            throw new WorkflowNotFoundException(before.Id);
        }

        return version;
    }

    private void AddEventsAndTasks(NpgsqlBatch batch, ApprovalState state, int fromVersion, Transition transition)
    {
        var seq = fromVersion;
        foreach (var e in transition.Events)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(InsertEventSql)
            {
                Parameters =
                {
                    new NpgsqlParameter<Guid> { TypedValue = state.Id },
                    new NpgsqlParameter<int> { TypedValue = ++seq },
                    new() { Value = e.Type },
                    new() { Value = e.Body.ToJsonString(WorkflowJson.Options) },
                    new() { Value = e.Actor ?? "system" },
                },
            });
        }

        foreach (var command in transition.Tasks)
        {
            switch (command)
            {
                case ScheduleTask s:
                    var options = taskOptions(s.Kind);
                    batch.BatchCommands.Add(new NpgsqlBatchCommand(InsertTaskSql)
                    {
                        Parameters =
                        {
                            new NpgsqlParameter<Guid> { TypedValue = state.Id },
                            new() { Value = s.Kind },
                            new() { Value = $"{state.Id:N}:{s.DedupKey}" },
                            new NpgsqlParameter<bool> { TypedValue = s.AtMostOnce },
                            new NpgsqlParameter<DateTimeOffset> { TypedValue = s.RunAt },
                            new NpgsqlParameter<int> { TypedValue = s.AtMostOnce ? 1 : options.MaxAttempts },
                            Jsonb(s.Args?.ToJsonString(WorkflowJson.Options) ?? "{}"),
                        },
                    });
                    break;
                case CancelTasks c:
                    batch.BatchCommands.Add(new NpgsqlBatchCommand(CancelTasksSql)
                    {
                        Parameters = { new NpgsqlParameter<Guid> { TypedValue = state.Id }, new() { Value = c.Kind } },
                    });
                    break;
            }
        }
    }

    internal static string SerializeState(ApprovalState state) => JsonSerializer.Serialize(state, WorkflowJson.Options);

    internal static ApprovalState DeserializeState(string json) =>
        JsonSerializer.Deserialize<ApprovalState>(json, WorkflowJson.Options)
        ?? throw new InvalidDataException("A workflow row holds null state.");

    /// <summary>The approvers of every stage, lower-cased: the <c>approvers</c> column (the request never changes, so neither does it).</summary>
    internal static string[] Approvers(ApprovalRequest request) =>
        [.. request.Approvers.Approvers.Concat(request.EscalateTo?.Approvers ?? []).Select(a => a.ToLowerInvariant()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    private static string[] Deciders(ApprovalState state) =>
        state.Votes.Select(v => v.Approver).Concat(state.DecidedBy).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();

    internal static NpgsqlParameter Jsonb(string? json) =>
        new() { Value = (object?)json ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb };
}

/// <summary>SQLSTATEs raised by our own PL/pgSQL (see the migrations).</summary>
internal static class SqlStates
{
    public const string AppendOnly = "AE001";
    public const string NotFound = "AE010";
    public const string VersionMismatch = "AE011";
    public const string DeadlinePassed = "AE012";
    public const string LeaseLost = "AE013";
}
