using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Workflows.Storage;

internal static partial class LocalPostgresLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Initializing a PostgreSQL cluster in {DataDirectory}")]
    internal static partial void Initializing(this ILogger logger, string dataDirectory);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "PostgreSQL started (pid {Pid}) on 127.0.0.1:{Port} with data in {DataDirectory}")]
    internal static partial void Started(this ILogger logger, int pid, int port, string dataDirectory);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Port {Port} was taken before PostgreSQL could bind it; retrying on another port")]
    internal static partial void PortTaken(this ILogger logger, int port);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "PostgreSQL stopped (pid {Pid})")]
    internal static partial void Stopped(this ILogger logger, int pid);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "PostgreSQL (pid {Pid}) did not stop within {Seconds} s of SIGINT; sending SIGKILL")]
    internal static partial void Killing(this ILogger logger, int pid, double seconds);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Created database {Database}")]
    internal static partial void DatabaseCreated(this ILogger logger, string database);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Could not delete the temporary data directory {DataDirectory}")]
    internal static partial void DeleteFailed(this ILogger logger, string dataDirectory, Exception exception);
}
