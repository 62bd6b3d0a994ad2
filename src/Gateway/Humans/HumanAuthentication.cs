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

    public static HumanAuthenticationResult Success(Human human) => new() { Human = human };

    public static HumanAuthenticationResult Failed(RefusalReason reason) => new() { Failure = reason };
}

/// <summary>
/// Authenticates people by the API token in <c>Authorization: Bearer ae_user_...</c>, against the configuration in
/// effect for this request (a reload that removes a token takes effect on the next request).
/// </summary>
public sealed class HumanAuthentication(LiveConfiguration config)
{
    public HumanAuthenticationResult Authenticate(HttpContext context)
    {
        var token = Bearer.TokenOf(context.Request);
        if (token is null)
        {
            return HumanAuthenticationResult.Failed(RefusalReason.NoToken);
        }

        if (config.Current.Users.TryFindByToken(token, out var user))
        {
            return HumanAuthenticationResult.Success(new Human { Email = user.Email, Roles = user.Roles });
        }

        // The prefix alone decides: an agent's key is refused here whether or not it is a valid key.
        return HumanAuthenticationResult.Failed(token.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal) ? RefusalReason.AgentKey : RefusalReason.InvalidToken);
    }
}
