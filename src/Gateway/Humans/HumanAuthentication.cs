using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Security;

namespace ApprovalEngine.Gateway.Humans;

/// <summary>The person a request is from, or why there is none.</summary>
public sealed record HumanAuthenticationResult
{
    public Human? Human { get; private init; }

    /// <summary>Set when <see cref="Human"/> is null: <see cref="RefusalReason.NoToken"/>, <see cref="RefusalReason.InvalidToken"/> or <see cref="RefusalReason.AgentKey"/>.</summary>
    public RefusalReason? Failure { get; private init; }

    /// <summary>Why an identity provider's token was refused ("expired", "wrong audience"...); safe to log and to answer with.</summary>
    public string? Problem { get; private init; }

    public static HumanAuthenticationResult Success(Human human) => new() { Human = human };

    public static HumanAuthenticationResult Failed(RefusalReason reason, string? problem = null) => new() { Failure = reason, Problem = problem };
}

/// <summary>
/// Authenticates people by the bearer token: an API token (<c>ae_user_...</c>), or, when the configuration has an
/// <c>oidc</c> section, a JWT from that identity provider. Always against the configuration in effect for this
/// request (a reload that removes a token takes effect on the next request).
/// </summary>
public sealed class HumanAuthentication(LiveConfiguration config, OidcTokens? oidcTokens = null)
{
    public async ValueTask<HumanAuthenticationResult> AuthenticateAsync(HttpContext context)
    {
        var token = Bearer.TokenOf(context.Request);
        if (token is null)
        {
            return HumanAuthenticationResult.Failed(RefusalReason.NoToken);
        }

        var current = config.Current;
        if (current.Users.TryFindByToken(token, out var user))
        {
            return HumanAuthenticationResult.Success(new Human { Email = user.Email, Roles = user.Roles });
        }

        if (current.Config.Oidc is { } oidc && oidcTokens is not null && !token.StartsWith("ae_", StringComparison.Ordinal) && oidcTokens.IsJwt(token))
        {
            return await oidcTokens.AuthenticateAsync(oidc, current.Users, token, context.RequestAborted);
        }

        // The prefix alone decides: an agent's key is refused here whether or not it is a valid key.
        return HumanAuthenticationResult.Failed(token.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal) ? RefusalReason.AgentKey : RefusalReason.InvalidToken);
    }
}
