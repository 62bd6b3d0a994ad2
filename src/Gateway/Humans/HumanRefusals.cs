using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Security;

namespace ApprovalEngine.Gateway.Humans;

/// <summary>
/// The one place a refused request to a people's endpoint goes: it is logged (never with the token), every
/// <see cref="IHumanRefusalObserver"/> is told, and the answer is made: 401 with a Bearer challenge, or 403, both
/// with an <c>application/problem+json</c> body.
/// </summary>
public sealed partial class HumanRefusals(IEnumerable<IHumanRefusalObserver> observers, TimeProvider time, ILogger<HumanRefusals> logger)
{
    private readonly IHumanRefusalObserver[] observers = [.. observers];

    /// <param name="human">The authenticated person, for <see cref="RefusalReason.MissingRole"/> and <see cref="RefusalReason.NotPermitted"/>.</param>
    /// <param name="required">The roles the endpoint accepts, any one of them; empty for any person.</param>
    /// <param name="detail">For <see cref="RefusalReason.NotPermitted"/>: what was refused and why; for <see cref="RefusalReason.InvalidToken"/>,
    /// why an identity provider's token was refused. It is the answer's detail; never put a token in it.</param>
    public async ValueTask<IResult> RefuseAsync(HttpContext context, RefusalReason reason, Human? human, IReadOnlyList<Role> required, string? detail = null)
    {
        if (reason == RefusalReason.NotPermitted && (human is null || string.IsNullOrWhiteSpace(detail)))
        {
            throw new ArgumentException("A NotPermitted refusal names the person and says why.", nameof(detail));
        }

        var refusal = new HumanRefusal
        {
            At = time.GetUtcNow(),
            Reason = reason,
            Method = context.Request.Method,
            Path = (context.Request.PathBase + context.Request.Path).ToString(),
            RemoteAddress = context.Connection.RemoteIpAddress?.ToString(),
            Email = human?.Email,
            RequiredRoles = required,
            Detail = detail,
        };
        Log(refusal, human);
        await NotifyAsync(context, refusal);
        return Answer(context, refusal, human);
    }

    private void Log(HumanRefusal refusal, Human? human)
    {
        var remote = refusal.RemoteAddress ?? "unknown";
        switch (refusal.Reason)
        {
            case RefusalReason.NoToken:
                LogNoToken(refusal.Method, refusal.Path, remote);
                break;
            case RefusalReason.InvalidToken when refusal.Detail is not null:
                LogInvalidJwt(refusal.Method, refusal.Path, remote, refusal.Detail);
                break;
            case RefusalReason.InvalidToken:
                LogInvalidToken(refusal.Method, refusal.Path, remote);
                break;
            case RefusalReason.AgentKey:
                LogAgentKey(refusal.Method, refusal.Path, remote);
                break;
            case RefusalReason.NotPermitted:
                LogNotPermitted(refusal.Method, refusal.Path, refusal.Email ?? "unknown", remote, refusal.Detail ?? "");
                break;
            default:
                LogMissingRole(refusal.Method, refusal.Path, refusal.Email ?? "unknown", remote, Needed(refusal.RequiredRoles), RoleNames.Join(human?.Roles ?? []));
                break;
        }
    }

    private async ValueTask NotifyAsync(HttpContext context, HumanRefusal refusal)
    {
        foreach (var observer in observers)
        {
            try
            {
                await observer.OnRefusedAsync(refusal, context.RequestAborted);
            }
            catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
            {
                // The request is refused either way; an observer's failure must not turn a 401 into a 500.
                LogObserverFailed(refusal.Method, refusal.Path, e);
            }
        }
    }

    private static IResult Answer(HttpContext context, HumanRefusal refusal, Human? human)
    {
        const string Unauthorized = "Unauthorized";
        switch (refusal.Reason)
        {
            case RefusalReason.NoToken:
                context.Response.Headers.WWWAuthenticate = Bearer.Challenge(null);
                return Results.Problem(statusCode: refusal.Status, title: Unauthorized,
                    detail: $"Send your API token as 'Authorization: Bearer {UserTokens.Prefix}...'. An administrator makes one with 'ApprovalEngine.Gateway new-token'.");
            case RefusalReason.InvalidToken when refusal.Detail is not null:
                context.Response.Headers.WWWAuthenticate = Bearer.Challenge("The token is not valid.");
                return Results.Problem(statusCode: refusal.Status, title: Unauthorized, detail: $"The identity provider's token was refused: {refusal.Detail}.");
            case RefusalReason.InvalidToken:
                context.Response.Headers.WWWAuthenticate = Bearer.Challenge("The API token is not valid.");
                return Results.Problem(statusCode: refusal.Status, title: Unauthorized,
                    detail: "The API token is not valid: it matches no user (mistyped, or rotated out of the configuration).");
            case RefusalReason.AgentKey:
                context.Response.Headers.WWWAuthenticate = Bearer.Challenge("Agent API keys are not accepted here; use a user token.");
                return Results.Problem(statusCode: refusal.Status, title: Unauthorized,
                    detail: $"This is an agent API key ({ApiKeys.Prefix}...); this endpoint is for people, with a user token ({UserTokens.Prefix}...).");
            case RefusalReason.NotPermitted:
                return Results.Problem(statusCode: refusal.Status, title: "Forbidden", detail: refusal.Detail);
            default:
                return Results.Problem(statusCode: refusal.Status, title: "Forbidden",
                    detail: $"This needs {Needed(refusal.RequiredRoles)}; {refusal.Email} has: {RoleNames.Join(human?.Roles ?? [])}.",
                    extensions: new Dictionary<string, object?> { ["requiredRoles"] = refusal.RequiredRoles.Select(RoleNames.Of).ToArray() });
        }
    }

    private static string Needed(IReadOnlyList<Role> roles) =>
        roles.Count == 1 ? $"the {RoleNames.Of(roles[0])} role" : $"one of the roles {RoleNames.Join(roles)}";

    [LoggerMessage(3500, LogLevel.Information, "Refused {Method} {Path} from {RemoteAddress}: no API token")]
    private partial void LogNoToken(string method, string path, string remoteAddress);

    [LoggerMessage(3501, LogLevel.Warning, "Refused {Method} {Path} from {RemoteAddress}: the API token matches no user")]
    private partial void LogInvalidToken(string method, string path, string remoteAddress);

    [LoggerMessage(3502, LogLevel.Warning, "Refused {Method} {Path} from {RemoteAddress}: an agent API key was presented to an endpoint for people")]
    private partial void LogAgentKey(string method, string path, string remoteAddress);

    [LoggerMessage(3503, LogLevel.Warning, "Refused {Method} {Path} to {Email} from {RemoteAddress}: it needs {Required}; the user has: {Roles}")]
    private partial void LogMissingRole(string method, string path, string email, string remoteAddress, string required, string roles);

    [LoggerMessage(3505, LogLevel.Warning, "Refused {Method} {Path} to {Email} from {RemoteAddress}: {Detail}")]
    private partial void LogNotPermitted(string method, string path, string email, string remoteAddress, string detail);

    [LoggerMessage(3506, LogLevel.Warning, "Refused {Method} {Path} from {RemoteAddress}: the identity provider's token was refused: {Problem}")]
    private partial void LogInvalidJwt(string method, string path, string remoteAddress, string problem);

    [LoggerMessage(3504, LogLevel.Error, "A refusal observer failed for {Method} {Path}; the request was refused all the same")]
    private partial void LogObserverFailed(string method, string path, Exception exception);
}
