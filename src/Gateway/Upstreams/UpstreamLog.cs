using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Upstreams;

// Messages carry upstream and agent names, tool names, counts and safe error descriptions (UpstreamErrors), never
// header or environment values, tokens or tool arguments; an upstream's stderr only at Trace (StandardError).
// Exceptions are attached only where their messages come from code that cannot see secrets.
internal static partial class UpstreamLog
{
    [LoggerMessage(EventId = 3200, Level = LogLevel.Information, Message = "Upstream {Upstream} connected{AgentSuffix} ({ServerName} {ServerVersion})")]
    internal static partial void Connected(this ILogger logger, string upstream, string agentSuffix, string serverName, string? serverVersion);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Upstream {Upstream}{AgentSuffix} failed: {Reason}; retrying in {DelayMs} ms")]
    internal static partial void RetryScheduled(this ILogger logger, string upstream, string agentSuffix, string reason, long delayMs);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "Upstream {Upstream} started")]
    internal static partial void Started(this ILogger logger, string upstream);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Information, Message = "Upstream {Upstream} stopped")]
    internal static partial void Stopped(this ILogger logger, string upstream);

    [LoggerMessage(EventId = 3204, Level = LogLevel.Information, Message = "Upstream {Upstream} configuration changed; restarting it")]
    internal static partial void Restarting(this ILogger logger, string upstream);

    [LoggerMessage(EventId = 3205, Level = LogLevel.Information, Message = "Upstream {Upstream} catalog: {Tools} tools, {Resources} resources, {Templates} resource templates, {Prompts} prompts")]
    internal static partial void CatalogLoaded(this ILogger logger, string upstream, int tools, int resources, int templates, int prompts);

    [LoggerMessage(EventId = 3206, Level = LogLevel.Warning, Message = "Upstream {Upstream} announced a list change but listing failed: {Reason}")]
    internal static partial void RefreshFailed(this ILogger logger, string upstream, string reason);

    [LoggerMessage(EventId = 3207, Level = LogLevel.Warning, Message = "Upstream {Upstream} did not answer {Method} '{Target}' within {TimeoutMs} ms; the request was cancelled")]
    internal static partial void CallTimedOut(this ILogger logger, string upstream, string method, string target, long timeoutMs);

    [LoggerMessage(EventId = 3208, Level = LogLevel.Warning, Message = "Upstream {Upstream} lost its connection during {Method} '{Target}': {Reason}")]
    internal static partial void CallLostConnection(this ILogger logger, string upstream, string method, string target, string reason);

    [LoggerMessage(EventId = 3209, Level = LogLevel.Information, Message = "Declined an elicitation request from upstream {Upstream}: {Reason}")]
    internal static partial void ElicitationDeclined(this ILogger logger, string upstream, string reason);

    [LoggerMessage(EventId = 3210, Level = LogLevel.Warning, Message = "Relaying a log message from upstream {Upstream} to an agent failed")]
    internal static partial void LogRelayFailed(this ILogger logger, string upstream, Exception exception);

    [LoggerMessage(EventId = 3211, Level = LogLevel.Debug, Message = "Dropped a log message from upstream {Upstream}: no call is in flight on that connection")]
    internal static partial void LogDropped(this ILogger logger, string upstream);

    [LoggerMessage(EventId = 3212, Level = LogLevel.Warning, Message = "Setting the logging level of upstream {Upstream} failed: {Reason}")]
    internal static partial void SetLevelFailed(this ILogger logger, string upstream, string reason);

    [LoggerMessage(EventId = 3213, Level = LogLevel.Warning, Message = "Killed {Count} leftover process(es) of upstream {Upstream}")]
    internal static partial void KilledLeftovers(this ILogger logger, string upstream, int count);

    [LoggerMessage(EventId = 3214, Level = LogLevel.Warning, Message = "Closing the connection to upstream {Upstream} failed: {Reason}")]
    internal static partial void DisposeFailed(this ILogger logger, string upstream, string reason);

    [LoggerMessage(EventId = 3215, Level = LogLevel.Information, Message = "Fetched an OAuth token for upstream {Upstream} (expires in {ExpiresInSeconds} s)")]
    internal static partial void TokenFetched(this ILogger logger, string upstream, long? expiresInSeconds);

    [LoggerMessage(EventId = 3216, Level = LogLevel.Warning, Message = "Upstream {Upstream} rejected its OAuth token; fetching a new one")]
    internal static partial void TokenRejected(this ILogger logger, string upstream);

    [LoggerMessage(EventId = 3217, Level = LogLevel.Error, Message = "A CatalogChanged handler failed")]
    internal static partial void CatalogHandlerFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3218, Level = LogLevel.Error, Message = "Applying the upstream configuration failed")]
    internal static partial void ApplyFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3219, Level = LogLevel.Information, Message = "Closed the connection of agent {Agent} to upstream {Upstream}: its credentials changed or it was removed")]
    internal static partial void AgentConnectionRetired(this ILogger logger, string upstream, string agent);

    // Trace only: stderr carries whatever the server prints, which can include secrets.
    [LoggerMessage(EventId = 3220, Level = LogLevel.Trace, Message = "Upstream {Upstream} stderr: {Line}")]
    internal static partial void StandardError(this ILogger logger, string upstream, string line);

    [LoggerMessage(EventId = 3221, Level = LogLevel.Debug, Message = "Could not tell upstream {Upstream} that a request was cancelled: {Reason}")]
    internal static partial void CancelNotSent(this ILogger logger, string upstream, string reason);
}
