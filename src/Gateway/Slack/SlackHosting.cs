using ApprovalEngine.Gateway.Slack;
using ApprovalEngine.Notifiers;
using ApprovalEngine.Notifiers.Slack;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

public static class SlackHosting
{
    /// <summary>
    /// Slack approvals: the card notifier (a no-op while the configuration has no slack section), the click queue,
    /// the interactivity endpoint's handler and, when <c>slack.mode</c> is <c>socket</c>, the Socket Mode connection.
    /// </summary>
    public static IServiceCollection AddSlackApprovals(this IServiceCollection services)
    {
        services.AddHttpClient(SlackClients.HttpClientName, client => client.Timeout = SlackClients.CallTimeout);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(new SlackSocketModeOptions());
        services.AddSingleton<SlackClients>();
        services.AddSingleton<SlackStore>();
        services.AddSingleton<SlackDirectory>();
        services.AddSingleton<SlackDecisions>();
        services.AddSingleton<SlackInteractionQueue>();
        services.AddHostedService(provider => provider.GetRequiredService<SlackInteractionQueue>());
        services.AddSingleton<SlackInteractionsEndpoint>();
        services.AddHostedService<SlackSocketModeService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IApprovalNotifier, SlackNotifier>());
        return services;
    }

    /// <summary><c>POST /slack/interactions</c>: answers 404 unless Slack is configured in HTTP mode.</summary>
    public static IEndpointRouteBuilder MapSlackInteractions(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost(SlackInteractionsEndpoint.Path, (HttpContext context, SlackInteractionsEndpoint endpoint) => endpoint.HandleAsync(context));
        return endpoints;
    }
}
