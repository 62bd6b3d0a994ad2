using ApprovalEngine.Notifiers.OpenId;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ApprovalEngine.Gateway.Humans;

/// <summary>
/// People's access to minimal-API endpoints: <c>MapGroup("/api").RequireRole(Role.Auditor)</c>, then
/// <c>context.GetHuman()</c> in the handler. Refusals are answered and recorded by <see cref="HumanRefusals"/>.
/// </summary>
public static class HumanAccess
{
    private static readonly object HumanKey = new();

    /// <summary><see cref="HumanAuthentication"/> and the refusal handling. Needs <c>LiveConfiguration</c>.</summary>
    public static IServiceCollection AddHumanAuthentication(this IServiceCollection services)
    {
        services.AddHttpClient(OidcTokens.HttpClientName, client => client.Timeout = OidcTokens.CallTimeout);
        services.TryAddSingleton(new OpenIdKeyOptions());
        services.TryAddSingleton<OidcTokens>();
        services.TryAddSingleton<HumanAuthentication>();
        services.TryAddSingleton<HumanRefusals>();
        services.TryAddSingleton(TimeProvider.System);
        return services;
    }

    // Only route handlers run endpoint filters, so only their builders get these: on another kind of endpoint the
    // requirement would be silently ignored.

    /// <summary>Admits any person with a valid API token, whatever their roles.</summary>
    public static RouteHandlerBuilder RequireHuman(this RouteHandlerBuilder builder) => builder.AddEndpointFilterFactory(Filter([]));

    /// <inheritdoc cref="RequireHuman(RouteHandlerBuilder)"/>
    public static RouteGroupBuilder RequireHuman(this RouteGroupBuilder builder) => builder.AddEndpointFilterFactory(Filter([]));

    /// <summary>Admits a person with a valid API token and at least one of <paramref name="anyOf"/>.</summary>
    public static RouteHandlerBuilder RequireRole(this RouteHandlerBuilder builder, params Role[] anyOf) => builder.AddEndpointFilterFactory(Filter(Roles(anyOf)));

    /// <inheritdoc cref="RequireRole(RouteHandlerBuilder, Role[])"/>
    public static RouteGroupBuilder RequireRole(this RouteGroupBuilder builder, params Role[] anyOf) => builder.AddEndpointFilterFactory(Filter(Roles(anyOf)));

    /// <summary>The person a <c>RequireHuman</c> or <c>RequireRole</c> endpoint admitted.</summary>
    /// <exception cref="InvalidOperationException">The endpoint has neither filter (a programming error).</exception>
    public static Human GetHuman(this HttpContext context) =>
        context.Items.TryGetValue(HumanKey, out var value) && value is Human human
            ? human
            : throw new InvalidOperationException("No authenticated person: the endpoint needs RequireHuman or RequireRole.");

    private static Role[] Roles(Role[] anyOf) =>
        anyOf.Length > 0
            ? [.. anyOf.Distinct()]
            : throw new ArgumentException("Name at least one role; RequireHuman admits any authenticated person.", nameof(anyOf));

    private static Func<EndpointFilterFactoryContext, EndpointFilterDelegate, EndpointFilterDelegate> Filter(Role[] anyOf) =>
        (factory, next) =>
        {
            // Resolved when the endpoint is built, so a host without AddHumanAuthentication fails then, not per request.
            var authentication = factory.ApplicationServices.GetRequiredService<HumanAuthentication>();
            var refusals = factory.ApplicationServices.GetRequiredService<HumanRefusals>();
            return async invocation =>
            {
                var context = invocation.HttpContext;

                // A group's filter may already have authenticated the request; the token is looked up once.
                if (!context.Items.TryGetValue(HumanKey, out var value) || value is not Human human)
                {
                    var result = await authentication.AuthenticateAsync(context);
                    if (result.Human is null)
                    {
                        return await refusals.RefuseAsync(context, result.Failure ?? RefusalReason.InvalidToken, null, anyOf, result.Problem);
                    }

                    human = result.Human;
                    context.Items[HumanKey] = human;
                }

                if (anyOf.Length > 0 && !human.HasAny(anyOf))
                {
                    return await refusals.RefuseAsync(context, RefusalReason.MissingRole, human, anyOf);
                }

                return await next(invocation);
            };
        };
}
