namespace ApprovalEngine.Gateway.Hosting;

/// <summary>
/// What a node does when told to stop (SIGTERM, Ctrl+C): it answers new MCP requests 503 and /readyz 503, ends every
/// held call with the pending result (the approval stays open; the agent's retry joins it on another node), lets
/// requests already running (upstream calls included) and running workflow tasks finish within the grace period,
/// then cancels what is left, puts retry-safe tasks back in the queue, and stops and disposes the upstreams.
/// </summary>
public static class GracefulShutdown
{
    public const string GracePeriodKey = "ApprovalEngine:ShutdownGracePeriod";
    public static readonly TimeSpan DefaultGracePeriod = TimeSpan.FromSeconds(30);

    /// <exception cref="GatewayStartupException">The setting is not a positive duration (hh:mm:ss).</exception>
    public static WebApplicationBuilder UseGracefulShutdown(this WebApplicationBuilder builder)
    {
        var text = builder.Configuration[GracePeriodKey];
        var grace = DefaultGracePeriod;
        if (text is { Length: > 0 } && (!TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out grace) || grace <= TimeSpan.Zero))
        {
            throw new GatewayStartupException($"{GracePeriodKey} must be a positive duration such as 00:00:30 (got '{text}').");
        }

        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = grace);
        return builder;
    }
}
