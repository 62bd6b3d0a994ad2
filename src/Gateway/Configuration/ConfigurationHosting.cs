namespace ApprovalEngine.Gateway.Configuration;

public static class ConfigurationHosting
{
    /// <summary>The setting that names the YAML file (<c>--config path</c> on the command line).</summary>
    public const string ConfigFileKey = "ApprovalEngine:Config";

    /// <summary>
    /// The gateway's YAML file: validated now (so a bad file stops the start with every error listed), then
    /// watched for changes while the host runs.
    /// </summary>
    /// <exception cref="GatewayConfigException">The file is missing or invalid.</exception>
    public static IServiceCollection AddGatewayConfiguration(this IServiceCollection services, string path)
    {
        GatewayConfigLoader.LoadOrThrow(path);
        services.AddSingleton(provider => new GatewayConfigMonitor(path, TimeProvider.System, provider.GetRequiredService<ILogger<GatewayConfigMonitor>>()));
        services.AddSingleton(provider => new LiveConfiguration(provider.GetRequiredService<GatewayConfigMonitor>()));
        services.AddHostedService<ConfigurationWatcher>();
        return services;
    }

    private sealed class ConfigurationWatcher(GatewayConfigMonitor monitor) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => monitor.StartAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken)
        {
            monitor.Dispose();
            return Task.CompletedTask;
        }
    }
}
