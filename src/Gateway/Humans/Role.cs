namespace ApprovalEngine.Gateway.Humans;

/// <summary>What a person may do through the gateway's human-facing API. Roles are independent: admin does not imply the others.</summary>
public enum Role
{
    /// <summary>Decides pending approvals.</summary>
    Approver,

    /// <summary>Reads the audit and the approval history.</summary>
    Auditor,

    /// <summary>Administers the gateway.</summary>
    Admin,
}

/// <summary>The names roles have in the configuration file and in messages.</summary>
public static class RoleNames
{
    public static IReadOnlyList<string> All { get; } = [.. Enum.GetValues<Role>().Select(Of)];

    public static string Of(Role role) => role switch
    {
        Role.Approver => "approver",
        Role.Auditor => "auditor",
        Role.Admin => "admin",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "not a role"),
    };

    /// <summary>The role named exactly <paramref name="name"/> (lowercase, as in the configuration).</summary>
    public static bool TryParse(string name, out Role role)
    {
        foreach (var candidate in Enum.GetValues<Role>())
        {
            if (string.Equals(Of(candidate), name, StringComparison.Ordinal))
            {
                role = candidate;
                return true;
            }
        }

        role = default;
        return false;
    }

    /// <summary>"approver, admin": for messages.</summary>
    public static string Join(IEnumerable<Role> roles) => string.Join(", ", roles.Select(Of));
}
