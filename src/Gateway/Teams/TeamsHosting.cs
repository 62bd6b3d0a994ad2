using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Teams;
using ApprovalEngine.Notifiers;
using ApprovalEngine.Notifiers.OpenId;
using ApprovalEngine.Notifiers.Teams;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

public static class TeamsHosting
{
    /// <summary>
    /// Teams approvals: the card notifier (a no-op while the configuration has no teams section), the messaging
    /// endpoint's handler, and a loud warning at start when the bot runs in development mode.
    /// </summary>
    public static IServiceCollection AddTeamsApprovals(this IServiceCollection services)
    {
        services.AddHttpClient(TeamsClients.HttpClientName, client => client.Timeout = TeamsClients.CallTimeout);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(new OpenIdKeyOptions());
        services.AddSingleton<TeamsClients>();
        services.AddSingleton<TeamsStore>();
        services.AddSingleton<TeamsDirectory>();
        services.AddSingleton<TeamsNotifier>();
        services.AddSingleton<IApprovalNotifier>(provider => provider.GetRequiredService<TeamsNotifier>());
        services.AddSingleton<TeamsInvokes>();
        services.AddSingleton<TeamsMessagesEndpoint>();
        services.AddHostedService<TeamsModeWarning>();
        return services;
    }

    /// <summary><c>POST /api/messages</c>: answers 404 unless the configuration has a teams section.</summary>
    public static IEndpointRouteBuilder MapTeamsMessages(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost(TeamsMessagesEndpoint.Path, (HttpContext context, TeamsMessagesEndpoint endpoint) => endpoint.HandleAsync(context));
        return endpoints;
    }
}

/// <summary>Says loudly, at start, that the Teams endpoint checks no tokens.</summary>
internal sealed partial class TeamsModeWarning(LiveConfiguration config, ILogger<TeamsModeWarning> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (config.Current.Config.Teams is { DevelopmentMode: true })
        {
            LogDevelopmentMode(TeamsMessagesEndpoint.Path);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(3830, LogLevel.Warning, "TEAMS DEVELOPMENT MODE: teams.appId is not set, so {Path} checks NO tokens and accepts only direct loopback requests. Never run like this where others can reach the gateway; set appId, appPassword and tenantId.")]
    private partial void LogDevelopmentMode(string path);
}
