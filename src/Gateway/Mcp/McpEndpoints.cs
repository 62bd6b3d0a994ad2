using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Telemetry;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ApprovalEngine.Gateway.Mcp;

public static class McpEndpoints
{
    /// <summary>The agent-facing MCP endpoint. Needs <see cref="LiveConfiguration"/> and the upstreams registered.</summary>
    public static IServiceCollection AddMcpEndpoint(this IServiceCollection services)
    {
        services.AddSingleton<ProxyViews>();
        services.AddSingleton<ProxyServer>();
        services.AddSingleton<ToolCalls>();
        services.AddSingleton<McpTasks>();
        services.AddSingleton<FinishedCallTasks>();
        services.TryAddSingleton<GatewayMetrics>();
        services.AddSingleton<CallAudit>();
        services.AddSingleton<AgentSessions>();
        services.AddHostedService(provider => provider.GetRequiredService<AgentSessions>());
        services.AddSingleton<McpHttpHandler>();
        services.TryAddSingleton(TimeProvider.System);
        return services;
    }

    /// <summary><c>/mcp</c> (every bundle of the agent) and <c>/mcp/{bundle}</c> (one virtual server).</summary>
    public static IEndpointRouteBuilder MapMcpEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var handler = endpoints.ServiceProvider.GetRequiredService<McpHttpHandler>();
        foreach (var pattern in new[] { "/mcp", "/mcp/{bundle}" })
        {
            endpoints.MapPost(pattern, (HttpContext context, string? bundle) => handler.PostAsync(context, bundle));
            endpoints.MapGet(pattern, (HttpContext context, string? bundle) => handler.GetAsync(context, bundle));
            endpoints.MapDelete(pattern, (HttpContext context, string? bundle) => handler.DeleteAsync(context, bundle));
        }

        return endpoints;
    }
}
