using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>
/// Records held calls (migration 0004), and withdraws an approval whose every waiter was cancelled by its agent longer
/// ago than the rule's <c>withdrawAfter</c> grace period. A retry that joins within the grace period attaches a new
/// waiter and so keeps the approval open. Runs on every node; a withdrawal is an idempotent cancel signal.
/// </summary>
internal sealed partial class ApprovalWaiters(NpgsqlDataSource dataSource, WorkflowRuntime runtime, TimeProvider time, ILogger<ApprovalWaiters> logger)
    : BackgroundService
{
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    public const string Actor = "gateway (grace period after the agent cancelled)";

    private const string AttachSql = "INSERT INTO approval_waiter (id, approval_id, node, withdraw_after_ms) VALUES ($1, $2, $3, $4)";

    private const string DetachSql = "UPDATE approval_waiter SET detached_at = now(), cancelled = $2 WHERE id = $1";

    // Approvals whose waiters have all gone, the last of them by cancellation, longer ago than the grace period.
    private const string DueSql = """
        SELECT approval_id FROM approval_waiter
        GROUP BY approval_id
        HAVING bool_and(detached_at IS NOT NULL)
           AND (array_agg(cancelled ORDER BY detached_at DESC))[1]
           AND max(withdraw_after_ms) IS NOT NULL
           AND max(detached_at) + make_interval(secs => max(withdraw_after_ms) / 1000.0) < now()
        LIMIT 100
        """;

    private const string ForgetSql = """
        DELETE FROM approval_waiter w USING wf_instance i
        WHERE i.id = w.approval_id AND i.state IN ('denied', 'expired', 'cancelled', 'completed', 'failed', 'in_doubt')
        """;

    private static readonly string Node = $"{Environment.MachineName}:{Environment.ProcessId}";

    public async Task<Guid> AttachAsync(Guid approvalId, TimeSpan? withdrawAfter, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        await using var command = dataSource.CreateCommand(AttachSql);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = approvalId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Node });
        command.Parameters.Add(new NpgsqlParameter { Value = withdrawAfter is { } grace ? (long)grace.TotalMilliseconds : DBNull.Value });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return id;
    }

    /// <summary>The wait ended: with the outcome, at the hold time, or because the agent went away (<paramref name="cancelled"/>).</summary>
    public async Task DetachAsync(Guid waiter, bool cancelled)
    {
        try
        {
            await using var command = dataSource.CreateCommand(DetachSql);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = waiter });
            command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = cancelled });
            await command.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (NpgsqlException e)
        {
            // An attached row only ever keeps an approval open, which is the safe side.
            LogDetachFailed(waiter, e);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (NpgsqlException e)
            {
                LogSweepFailed(e);
            }
        }
    }

    internal async Task SweepAsync(CancellationToken cancellationToken)
    {
        var due = new List<Guid>();
        await using (var command = dataSource.CreateCommand(DueSql))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                due.Add(reader.GetGuid(0));
            }
        }

        foreach (var approval in due)
        {
            var outcome = await runtime.SignalAsync(approval,
                new SignalRequest(SignalNames.Cancel, $"grace-period:{approval:N}", Actor, System.Text.Json.JsonSerializer.SerializeToElement(new { reason = "the agent stopped waiting and did not call again within the grace period" })),
                cancellationToken);
            if (outcome.Accepted)
            {
                LogWithdrawn(approval);
            }
        }

        await using var forget = dataSource.CreateCommand(ForgetSql);
        await forget.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(3601, LogLevel.Information, "Approval {Id} was withdrawn: its agent stopped waiting and did not call again within the grace period")]
    private partial void LogWithdrawn(Guid id);

    [LoggerMessage(3602, LogLevel.Warning, "Could not record the end of wait {Waiter}")]
    private partial void LogDetachFailed(Guid waiter, Exception exception);

    [LoggerMessage(3603, LogLevel.Warning, "The sweep for approvals abandoned by their agents failed; it runs again shortly")]
    private partial void LogSweepFailed(Exception exception);
}
