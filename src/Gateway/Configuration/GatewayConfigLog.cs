using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Configuration;

// Messages carry only paths and ConfigError texts, which show secret references and never their values.
internal static partial class GatewayConfigLog
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Information, Message = "Configuration {Path} reloaded")]
    internal static partial void Reloaded(this ILogger logger, string path);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Error, Message = "Configuration {Path} changed but has {Count} error(s); the previous configuration stays in effect")]
    internal static partial void ReloadRejected(this ILogger logger, string path, int count);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "Configuration error: {Error}")]
    internal static partial void ConfigurationError(this ILogger logger, string error);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "A configuration change handler failed")]
    internal static partial void ChangeHandlerFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Warning, Message = "Watching {Path} for changes failed; polling continues")]
    internal static partial void WatcherFailed(this ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Information, Message = "Watching configuration {Path} for changes")]
    internal static partial void Watching(this ILogger logger, string path);
}
