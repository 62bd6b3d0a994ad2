using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Microsoft.Extensions.DependencyInjection;

public static class WorkflowServiceCollectionExtensions
{
    /// <summary>
    /// Add the durable workflow runtime on the PostgreSQL at <paramref name="connectionString"/>: the API
    /// (<see cref="WorkflowRuntime"/>) and, as a hosted service, migrations, wakeups, the task worker and the reaper.
    /// Activities are added separately as <see cref="IActivity"/> singletons.
    /// </summary>
    public static IServiceCollection AddWorkflowRuntime(this IServiceCollection services, string connectionString, Action<WorkflowRuntimeOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        services.AddOptions<WorkflowRuntimeOptions>().Configure(o => configure?.Invoke(o));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WorkflowRuntimeOptions>, WorkflowRuntimeOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var builder = new NpgsqlDataSourceBuilder(connectionString);
            // The runtime leaves no session state on pooled connections (LISTEN has its own), so skip the
            // DISCARD ALL on every checkout: it doubled server round trips and threw away prepared plans.
            builder.ConnectionStringBuilder.NoResetOnClose = true;
            builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
            builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
            builder.UseLoggerFactory(sp.GetService<ILoggerFactory>());
            return builder.Build();
        });
        services.TryAddSingleton<ActivityRegistry>();
        services.TryAddSingleton<WorkflowMetrics>();
        // The listener needs the full connection string: NpgsqlDataSource.ConnectionString omits the password.
        services.TryAddSingleton(sp => new WakeupHub(sp.GetRequiredService<NpgsqlDataSource>(), connectionString, sp.GetRequiredService<ILogger<WakeupHub>>()));
        services.TryAddSingleton<WorkflowRuntime>();
        services.TryAddSingleton<TaskWorker>();
        services.TryAddSingleton<TaskReaper>();
        services.AddHostedService<WorkflowHost>();
        return services;
    }
}
