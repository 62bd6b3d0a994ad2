namespace ApprovalEngine.Gateway.Audit;

/// <summary>The audit of every tool call. Callers treat a failure as a reason to fail the call (fail closed).</summary>
public interface IToolCallAudit
{
    /// <summary>
    /// Writes <paramref name="record"/> and returns once it is committed in PostgreSQL.
    /// Cancelling stops the wait only: a record already queued is still written, because the call it describes happened.
    /// </summary>
    /// <exception cref="ToolCallAuditException">The record could not be committed (database unavailable, writer stopped).</exception>
    /// <exception cref="ArgumentException">The record is incomplete or its redacted arguments are not JSON.</exception>
    Task<ToolCallAuditReceipt> AppendAsync(ToolCallRecord record, CancellationToken cancellationToken = default);

    /// <summary>Whether <see cref="TryHold"/> would take a record now (there is room, and the audit is not stopping).</summary>
    bool CanHold { get; }

    /// <summary>
    /// Keeps <paramref name="record"/> in memory, to be written when the database answers again, without waiting: for
    /// calls that run while the database is unavailable, where operators chose availability. False when there is no room.
    /// </summary>
    bool TryHold(ToolCallRecord record);
}

/// <summary>A record was not committed. The message is safe to log; it holds no arguments and no secrets.</summary>
public sealed class ToolCallAuditException : Exception
{
    public ToolCallAuditException()
    {
    }

    public ToolCallAuditException(string message)
        : base(message)
    {
    }

    public ToolCallAuditException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
