using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Policy;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>One valid configuration with the lookups derived from it; replaced as a whole on reload.</summary>
public sealed class ConfigSnapshot(GatewayConfig config)
{
    public GatewayConfig Config { get; } = config;

    public AgentDirectory Agents { get; } = new(config);

    public UserDirectory Users { get; } = new(config);
    public PolicyEngine Policy { get; } = new(config.Policy, config.Server.ToolSeparator);
}

/// <summary>The configuration in effect: follows <see cref="GatewayConfigMonitor"/> so readers never see a half-applied reload.</summary>
public sealed class LiveConfiguration
{
    private ConfigSnapshot current;

    public LiveConfiguration(GatewayConfigMonitor monitor)
        : this(monitor.Current)
    {
        monitor.Changed += Apply;
    }

    public LiveConfiguration(GatewayConfig config) => current = new ConfigSnapshot(config);

    /// <summary>Raised after <see cref="Current"/> changed.</summary>
    public event Action<ConfigSnapshot>? Changed;

    public ConfigSnapshot Current => Volatile.Read(ref current);

    public void Apply(GatewayConfig config)
    {
        var snapshot = new ConfigSnapshot(config);
        Volatile.Write(ref current, snapshot);
        Changed?.Invoke(snapshot);
    }
}
