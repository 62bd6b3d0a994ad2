using ApprovalEngine.Gateway.Database;

namespace Microsoft.Extensions.DependencyInjection;

public static class DatabaseServiceCollectionExtensions
{
    /// <summary>
    /// Hand <paramref name="database"/> to the host, which stops its embedded server when it stops. Call before
    /// <c>AddWorkflowRuntime</c>: hosted services stop in reverse order, so the database outlives the runtime.
    /// </summary>
    public static IServiceCollection AddGatewayDatabase(this IServiceCollection services, GatewayDatabase database)
    {
        services.AddSingleton(database);
        services.AddHostedService<DatabaseLifetime>();
        return services;
    }
}
