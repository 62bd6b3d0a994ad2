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
