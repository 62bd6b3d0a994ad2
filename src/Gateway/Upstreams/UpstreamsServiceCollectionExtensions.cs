using System.Threading.Channels;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Telemetry;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Upstreams;

public static class UpstreamsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="UpstreamPool"/> as <see cref="IUpstreams"/> and a hosted service that starts the upstreams
    /// of <see cref="GatewayConfigMonitor.Current"/>, applies every configuration the monitor reloads, and stops every
    /// upstream (and its processes) when the host stops. Before any upstream starts, it kills what stdio upstreams of
    /// gateways that were killed left behind (<see cref="OrphanedProcesses"/>). Expects <see cref="GatewayConfigMonitor"/>
    /// to be registered.
    /// </summary>
    public static IServiceCollection AddUpstreams(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<GatewayMetrics>();
        services.TryAddSingleton<UpstreamPool>();
        services.TryAddSingleton<IUpstreams>(provider => provider.GetRequiredService<UpstreamPool>());
        // Hosted services start in order: the sweep finishes before the pool starts a process.
        services.AddHostedService<OrphanSweepService>();
        services.AddHostedService<UpstreamPoolService>();
        return services;
    }
}

/// <summary>Drives the pool from the configuration monitor for the host's lifetime.</summary>
internal sealed class UpstreamPoolService(UpstreamPool pool, GatewayConfigMonitor monitor, ILogger<UpstreamPoolService> logger) : IHostedService
{
    // The monitor raises Changed under its reload lock, so the handler only queues; the newest configuration replaces
    // one not yet applied, since applying a superseded one would only start what the next one stops.
    private readonly Channel<GatewayConfig> changes = Channel.CreateBounded<GatewayConfig>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    private readonly CancellationTokenSource stopping = new();
    private Task? applying;
    private int stopped;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribed before reading Current, so a reload in between is applied after it rather than lost.
        monitor.Changed += OnChanged;
        await pool.ApplyAsync(monitor.Current, cancellationToken);
        applying = Task.Run(() => ApplyChangesAsync(stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Hosts may stop twice (WebApplicationFactory does on dispose); the second stop has nothing left to do.
        if (Interlocked.Exchange(ref stopped, 1) == 1)
        {
            return;
        }

        monitor.Changed -= OnChanged;
        await stopping.CancelAsync();
        if (applying is not null)
        {
            await applying;
        }

        await pool.DisposeAsync();
        stopping.Dispose();
    }

    private void OnChanged(GatewayConfig config) => changes.Writer.TryWrite(config);

    private async Task ApplyChangesAsync(CancellationToken stop)
    {
        try
        {
            await foreach (var config in changes.Reader.ReadAllAsync(stop))
            {
                try
                {
                    await pool.ApplyAsync(config, stop);
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    // The next reload tries again; the running upstreams stay as they are.
                    logger.ApplyFailed(e);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }
}
