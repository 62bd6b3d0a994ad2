namespace ApprovalEngine.Gateway.Humans;

/// <summary>A person authenticated by one of their API tokens, as the endpoint handling the request sees them.</summary>
public sealed record Human
{
    /// <summary>As written in the configuration's <c>users:</c> key; compare emails ignoring case.</summary>
    public required string Email { get; init; }

    public required IReadOnlyList<Role> Roles { get; init; }

    public bool Has(Role role) => Roles.Contains(role);

    /// <summary>Whether the person has at least one of <paramref name="roles"/>.</summary>
    public bool HasAny(IEnumerable<Role> roles) => roles.Any(Has);
}
