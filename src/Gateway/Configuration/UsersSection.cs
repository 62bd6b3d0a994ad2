using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Humans;

namespace ApprovalEngine.Gateway.Configuration;

internal static class UsersSection
{
    private static readonly string[] Fields = ["roles", "tokens"];

    /// <summary>People by email (keys compared ignoring case). Agents come first: a hash may name one principal only.</summary>
    public static Dictionary<string, UserConfig> Read(MappingView root, IReadOnlyDictionary<string, AgentConfig> agents)
    {
        var users = new Dictionary<string, UserConfig>(StringComparer.OrdinalIgnoreCase);
        if (root.Child("users") is not { } section)
        {
            return users;
        }

        var hashOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var agent in agents.Values)
        {
            foreach (var hash in agent.Keys)
            {
                hashOwners.TryAdd(hash, $"a key of agent \"{agent.Id}\"");
            }
        }

        var lines = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in section.Entries)
        {
            var email = key.Value;
            var path = section.PathOf(email);
            if (Checks.Email(email) is { } problem)
            {
                section.Reader.Error(key.Start, path, $"the key {problem} (got \"{email}\")");
            }

            // The reader rejects exact duplicates; emails that differ only in case are the same person.
            if (!lines.TryAdd(email, key.Start.Line))
            {
                section.Reader.Error(key.Start, path, $"the same email as line {lines[email]} (emails are compared ignoring case)");
                continue;
            }

            if (section.Reader.Mapping(value, path, key.Start, Fields) is not { } user)
            {
                if (value is YScalar { IsNull: true })
                {
                    section.Reader.Error(key.Start, path, $"a user needs at least roles ({string.Join(", ", RoleNames.All)})");
                }

                continue;
            }

            users[email] = new UserConfig
            {
                Email = email,
                Roles = ReadRoles(user),
                Tokens = ReadTokens(user, email, hashOwners),
            };
        }

        return users;
    }

    private static List<Role> ReadRoles(MappingView user)
    {
        var roles = new List<Role>();
        if (!user.Has("roles"))
        {
            user.Missing("roles", $"(at least one of: {string.Join(", ", RoleNames.All)})");
            return roles;
        }

        var items = user.List("roles", name => RoleNames.TryParse(name, out _)
            ? null
            : $"must be one of: {string.Join(", ", RoleNames.All)}{FieldNames.Suggestion(name, RoleNames.All)}");
        foreach (var (name, at) in items)
        {
            RoleNames.TryParse(name, out var role);
            if (roles.Contains(role))
            {
                user.Reader.Error(at, ItemPath(user, "roles", at), $"role \"{name}\" is listed twice");
            }
            else
            {
                roles.Add(role);
            }
        }

        // An empty list is an error of its own; a list whose every item was wrong has been reported item by item.
        if (user.Node("roles") is YSequence { Items.Count: 0 } empty)
        {
            user.Reader.Error(empty.Start, user.PathOf("roles"), $"needs at least one role: {string.Join(", ", RoleNames.All)}");
        }

        return roles;
    }

    private static List<string> ReadTokens(MappingView user, string email, Dictionary<string, string> hashOwners)
    {
        var tokens = new List<string>();
        foreach (var (hash, at) in user.List("tokens"))
        {
            var path = ItemPath(user, "tokens", at);

            // Never echo the value: it may be a raw token (or an agent's key) pasted by mistake.
            if (hash.StartsWith(UserTokens.Prefix, StringComparison.Ordinal) || hash.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal))
            {
                user.Reader.Error(at, path, "this is an API token, not its hash; store only the hash (sha256:<64 lowercase hex>), as 'new-token' prints it");
            }
            else if (!UserTokens.IsWellFormedHash(hash))
            {
                user.Reader.Error(at, path, "must be a token hash: sha256: followed by 64 lowercase hex digits");
            }
            else if (tokens.Contains(hash))
            {
                user.Reader.Error(at, path, "the same token hash is listed twice");
            }
            else if (!hashOwners.TryAdd(hash, $"a token of user \"{email}\""))
            {
                user.Reader.Error(at, path, $"this hash is already {hashOwners[hash]}; one hash identifies exactly one agent or person");
            }
            else
            {
                tokens.Add(hash);
            }
        }

        return tokens;
    }

    /// <summary>"users.a@example.com.tokens[1]": the index among all the list's items, valid or not.</summary>
    private static string ItemPath(MappingView user, string field, Position at) =>
        user.Node(field) is YSequence list && list.Items.FindIndex(item => item.Start == at) is var index and >= 0
            ? $"{user.PathOf(field)}[{index}]"
            : user.PathOf(field);
}
