using ApprovalEngine.Activities;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

public static class ActivitiesServiceCollectionExtensions
{
    /// <summary>
    /// Register the approval activities (execute, notify). An <see cref="IToolInvoker"/> must be registered too
    /// (the gateway's upstream layer, or <see cref="AddToolInvoker"/> in tests).
    /// </summary>
    public static IServiceCollection AddApprovalActivities(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IActivity, ExecuteToolActivity>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IActivity, NotifyActivity>());
        return services;
    }

    /// <summary>Use a delegate to run approved calls.</summary>
    public static IServiceCollection AddToolInvoker(this IServiceCollection services, Func<ToolInvocation, CancellationToken, Task<ActivityResult>> invoke)
    {
        services.AddSingleton<IToolInvoker>(new DelegateToolInvoker(invoke));
        return services;
    }
}
