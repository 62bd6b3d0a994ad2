namespace ApprovalEngine.Gateway.Audit;

// Event ids 3300-3399 belong to the audit. Messages carry counts and ids only: never arguments, never secrets.
public sealed partial class ToolCallAuditWriter
{
    [LoggerMessage(3300, LogLevel.Information, "Tool-call audit writer started: chain stream {StreamId} on {Node}")]
    private partial void LogStarted(Guid streamId, string node);

    [LoggerMessage(3301, LogLevel.Error, "A tool-call audit batch of {Count} records was not committed; its callers fail closed")]
    private partial void LogBatchFailed(int count, Exception exception);

    [LoggerMessage(3302, LogLevel.Warning, "A tool-call audit batch of {Count} records failed before committing with a transient error; retrying once")]
    private partial void LogRetrying(int count, Exception exception);

    [LoggerMessage(3303, LogLevel.Warning, "A tool-call audit batch of {Count} records reported an error but had committed (stream {StreamId} at seq {Seq})")]
    private partial void LogCommittedDespiteError(int count, Guid streamId, long seq, Exception exception);

    [LoggerMessage(3304, LogLevel.Critical, "Audit stream {StreamId} is at seq {Actual} in the database, not at {Expected} as its writer expected; continuing from the stored head")]
    private partial void LogHeadMoved(Guid streamId, long expected, long actual);

    [LoggerMessage(3305, LogLevel.Information, "Tool-call audit writer stopped: stream {StreamId}, {Records} records in {Commits} commits")]
    private partial void LogStopped(Guid streamId, long records, long commits);

    [LoggerMessage(3306, LogLevel.Error, "The tool-call audit did not drain within {Timeout}; {Queued} queued records are failed")]
    private partial void LogDrainTimedOut(TimeSpan timeout, int queued);

    [LoggerMessage(3307, LogLevel.Critical, "The tool-call audit writer failed; every further tool call fails until the gateway restarts")]
    private partial void LogLoopFailed(Exception exception);
}
