using ApprovalEngine.Gateway.Database;

namespace Microsoft.Extensions.DependencyInjection;

public static class DatabaseServiceCollectionExtensions
{
    /// <summary>
    /// Hand <paramref name="database"/> to the host, which stops its embedded server when it stops, and track whether
    /// it answers (<see cref="DatabaseAvailability"/>). Call before <c>AddWorkflowRuntime</c>: hosted services stop in
    /// reverse order, so the database outlives the runtime.
    /// </summary>
    public static IServiceCollection AddGatewayDatabase(this IServiceCollection services, GatewayDatabase database)
    {
        services.AddSingleton(database);
        services.AddHostedService<DatabaseLifetime>();
        services.AddSingleton<DatabaseAvailability>();
        services.AddHostedService(provider => provider.GetRequiredService<DatabaseAvailability>());
        return services;
    }
}
