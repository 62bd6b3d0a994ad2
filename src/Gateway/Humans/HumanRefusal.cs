namespace ApprovalEngine.Gateway.Humans;

/// <summary>Why a request to a people's endpoint was refused.</summary>
public enum RefusalReason
{
    /// <summary>No <c>Authorization: Bearer</c> header (401).</summary>
    NoToken,

    /// <summary>A token that matches no person: mistyped, rotated out, or never issued (401).</summary>
    InvalidToken,

    /// <summary>An agent's API key: agents are not people, whatever the key (401).</summary>
    AgentKey,

    /// <summary>A valid token of a person without any of the roles the endpoint needs (403).</summary>
    MissingRole,

    /// <summary>A person with the role, refused this one resource: not an approver of that approval, or their own agent's request (403).</summary>
    NotPermitted,
}

/// <summary>One refused request, as logged and handed to every <see cref="IHumanRefusalObserver"/>. It never holds the token.</summary>
public sealed record HumanRefusal
{
    public required DateTimeOffset At { get; init; }

    public required RefusalReason Reason { get; init; }

    /// <summary>401 or 403.</summary>
    public int Status => Reason is RefusalReason.MissingRole or RefusalReason.NotPermitted ? StatusCodes.Status403Forbidden : StatusCodes.Status401Unauthorized;

    public required string Method { get; init; }

    /// <summary>The request path, without the query string.</summary>
    public required string Path { get; init; }

    public string? RemoteAddress { get; init; }

    /// <summary>The authenticated person, for <see cref="RefusalReason.MissingRole"/> and <see cref="RefusalReason.NotPermitted"/>; null when nobody was authenticated.</summary>
    public string? Email { get; init; }

    /// <summary>The roles the endpoint accepts (any one of them); empty when it takes any authenticated person.</summary>
    public IReadOnlyList<Role> RequiredRoles { get; init; } = [];

    /// <summary>For <see cref="RefusalReason.NotPermitted"/>: what was refused and why, in words for the person and the audit.</summary>
    public string? Detail { get; init; }
}

/// <summary>
/// Told of every refused request after it is logged: where a durable audit of refusals plugs in
/// (register with <c>TryAddEnumerable</c>). A failure is logged and does not change the refusal.
/// </summary>
public interface IHumanRefusalObserver
{
    ValueTask OnRefusedAsync(HumanRefusal refusal, CancellationToken cancellationToken);
}
