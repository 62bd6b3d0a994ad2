using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>A task this node holds a lease on, with the workflow as it was at claim time.</summary>
internal sealed record ClaimedTask(
    long Id, Guid WorkflowId, string Kind, int Attempt, int MaxAttempts, bool AtMostOnce, Guid LeaseToken, JsonElement Args,
    WorkflowSnapshot Workflow, DateTimeOffset DbNow)
{
    public Fence Fence => new(Id, LeaseToken);
}

/// <summary>A task whose lease expired and that the reaper now holds.</summary>
internal sealed record ExpiredTask(Fence Fence, Guid WorkflowId, string Kind, bool AtMostOnce, int Attempt);

/// <summary>SQL for task leases. Every statement after the claim is fenced by (id, lease_token, state = 'running').</summary>
internal sealed class TaskQueue(NpgsqlDataSource dataSource)
{
    // MATERIALIZED keeps the planner from updating more rows than the LIMIT locked (the Oban lesson).
    private const string ClaimSql = """
        WITH c AS MATERIALIZED (
            SELECT id FROM wf_task
            WHERE state = 'ready' AND run_at <= now() AND kind = ANY($3)
            ORDER BY run_at, id LIMIT $1 FOR UPDATE SKIP LOCKED),
        t AS (
            UPDATE wf_task t SET state = 'running', attempt = t.attempt + 1, lease_token = gen_random_uuid(),
                lease_owner = $2, lease_until = now() + $4
            FROM c WHERE t.id = c.id
            RETURNING t.id, t.wf_id, t.kind, t.attempt, t.max_attempts, t.at_most_once, t.lease_token, t.args)
        SELECT t.id, t.wf_id, t.kind, t.attempt, t.max_attempts, t.at_most_once, t.lease_token, t.args::text,
               i.business_key, i.version, i.data, i.updated_at, clock_timestamp()
        FROM t JOIN wf_instance i ON i.id = t.wf_id
        ORDER BY t.id
        """;

    private const string NextDueSql = """
        SELECT extract(epoch FROM min(run_at) - clock_timestamp())::float8 FROM wf_task WHERE state = 'ready' AND kind = ANY($1)
        """;

    private const string HeartbeatSql = """
        UPDATE wf_task SET lease_until = now() + $3 WHERE id = $1 AND lease_token = $2 AND state = 'running'
        """;

    private const string FinishSql = """
        UPDATE wf_task SET state = $3, last_error = $4, finished_at = now(), lease_until = NULL
        WHERE id = $1 AND lease_token = $2 AND state = 'running'
        """;

    // Exponential backoff capped at max_delay, with full jitter in [0.5, 1.0) of the step; computed on the database clock.
    // A delay the other side asked for ($6, e.g. HTTP Retry-After) replaces the backoff: retrying sooner only earns another refusal.
    private const string RetrySql = """
        UPDATE wf_task SET state = 'ready', lease_token = NULL, lease_owner = NULL, lease_until = NULL, last_error = $3,
            run_at = now() + coalesce($6, least($4 * power(2, attempt - 1), $5) * (0.5 + random() / 2))
        WHERE id = $1 AND lease_token = $2 AND state = 'running'
        """;

    // The attempt never started, so it does not count.
    private const string ReleaseSql = """
        UPDATE wf_task SET state = 'ready', attempt = attempt - 1, lease_token = NULL, lease_owner = NULL, lease_until = NULL, run_at = now()
        WHERE id = $1 AND lease_token = $2 AND state = 'running'
        """;

    // Expired leases of tasks that are safe to run again go straight back to the queue.
    private const string RequeueExpiredSql = """
        UPDATE wf_task SET state = 'ready', lease_token = NULL, lease_owner = NULL, lease_until = NULL, run_at = now(),
            last_error = 'lease of ' || coalesce(lease_owner, '?') || ' expired'
        WHERE state = 'running' AND lease_until < now() AND NOT at_most_once AND attempt < max_attempts
        """;

    // The others (at-most-once, or out of attempts) need a decision: take their lease so the decision is fenced.
    private const string StealExpiredSql = """
        UPDATE wf_task t SET lease_token = gen_random_uuid(), lease_owner = $1, lease_until = now() + $2
        FROM (SELECT id FROM wf_task
              WHERE state = 'running' AND lease_until < now() AND (at_most_once OR attempt >= max_attempts)
              ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) c
        WHERE t.id = c.id
        RETURNING t.id, t.wf_id, t.kind, t.lease_token, t.at_most_once, t.attempt
        """;

    /// <summary>Claim up to <paramref name="count"/> due tasks, and learn how long until the next one is due.</summary>
    public async Task<(List<ClaimedTask> Tasks, TimeSpan? NextDue)> ClaimAsync(int count, string node, string[] kinds, TimeSpan lease, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(ClaimSql)
        {
            Parameters =
            {
                new NpgsqlParameter<int> { TypedValue = count },
                new() { Value = node },
                new NpgsqlParameter<string[]> { TypedValue = kinds },
                new NpgsqlParameter<TimeSpan> { TypedValue = lease },
            },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(NextDueSql) { Parameters = { new NpgsqlParameter<string[]> { TypedValue = kinds } } });

        var tasks = new List<ClaimedTask>();
        await using var reader = await batch.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            using var args = JsonDocument.Parse(reader.GetString(7));
            var workflowId = reader.GetGuid(1);
            tasks.Add(new ClaimedTask(
                reader.GetInt64(0), workflowId, reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetBoolean(5), reader.GetGuid(6),
                args.RootElement.Clone(),
                new WorkflowSnapshot(workflowId, reader.GetString(8), reader.GetInt32(9), WorkflowStore.DeserializeState(reader.GetString(10)), reader.GetFieldValue<DateTimeOffset>(11)),
                reader.GetFieldValue<DateTimeOffset>(12)));
        }

        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        TimeSpan? next = reader.IsDBNull(0) ? null : TimeSpan.FromSeconds(Math.Max(0, reader.GetDouble(0)));
        return (tasks, next);
    }

    /// <summary>Extend the lease. False: the lease is gone (expired and taken), so the work must stop.</summary>
    public async Task<bool> HeartbeatAsync(Fence fence, TimeSpan lease, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(HeartbeatSql);
        AddFence(cmd.Parameters, fence);
        cmd.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = lease });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Mark the task done or dead. False when the fence no longer holds.</summary>
    public async Task<bool> FinishAsync(Fence fence, string state, string? error, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(FinishSql);
        AddFence(cmd.Parameters, fence);
        cmd.Parameters.Add(new() { Value = state });
        cmd.Parameters.Add(new() { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Put the task back with backoff. False when the fence no longer holds.</summary>
    public Task<bool> RetryLaterAsync(Fence fence, string error, ActivityOptions options, CancellationToken ct) =>
        RetryLaterAsync(fence, error, options, after: null, ct);

    /// <summary>Put the task back after <paramref name="after"/>, or with backoff when null. False when the fence no longer holds.</summary>
    public async Task<bool> RetryLaterAsync(Fence fence, string error, ActivityOptions options, TimeSpan? after, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(RetrySql);
        AddFence(cmd.Parameters, fence);
        cmd.Parameters.Add(new() { Value = error });
        cmd.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = options.BaseDelay });
        cmd.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = options.MaxDelay });
        cmd.Parameters.Add(new() { Value = after is { } a ? a : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Interval });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Put the task back, due now, with no backoff (its work never started).</summary>
    public async Task<bool> ReleaseAsync(Fence fence, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(ReleaseSql);
        AddFence(cmd.Parameters, fence);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<int> RequeueExpiredAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(RequeueExpiredSql);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<List<ExpiredTask>> StealExpiredAsync(string owner, TimeSpan lease, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(StealExpiredSql);
        cmd.Parameters.Add(new() { Value = owner });
        cmd.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = lease });
        var tasks = new List<ExpiredTask>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            tasks.Add(new ExpiredTask(new Fence(reader.GetInt64(0), reader.GetGuid(3)), reader.GetGuid(1), reader.GetString(2), reader.GetBoolean(4), reader.GetInt32(5)));
        }

        return tasks;
    }

    internal static void AddFence(NpgsqlParameterCollection parameters, Fence fence)
    {
        parameters.Add(new NpgsqlParameter<long> { TypedValue = fence.TaskId });
        parameters.Add(new NpgsqlParameter<Guid> { TypedValue = fence.LeaseToken });
    }
}
