using ApprovalEngine.Gateway.Agents;

namespace ApprovalEngine.Gateway.Configuration;

internal static class AgentsSection
{
    private static readonly string[] Fields = ["owner", "groups", "keys", "credentials"];
    private static readonly string[] CredentialFields = ["headers", "env"];

    public static Dictionary<string, AgentConfig> Read(MappingView root, IReadOnlyDictionary<string, UpstreamConfig> upstreams, ISet<string> upstreamNames)
    {
        var agents = new Dictionary<string, AgentConfig>(StringComparer.Ordinal);
        if (root.Child("agents") is not { } section)
        {
            return agents;
        }

        // One key hash may identify only one agent.
        var keyOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in section.Entries)
        {
            var path = section.PathOf(key.Value);
            if (Checks.Name(key.Value) is { } problem)
            {
                section.Reader.Error(key.Start, path, $"the id {problem} (got \"{key.Value}\")");
            }

            if (section.Reader.Mapping(value, path, key.Start, Fields) is not { } agent)
            {
                if (value is YScalar { IsNull: true })
                {
                    section.Reader.Error(key.Start, path, "an agent needs at least an owner and keys");
                }

                continue;
            }

            if (!agent.Has("keys"))
            {
                agent.Missing("keys", "(a list of key hashes; [] disables the agent)");
            }

            agents[key.Value] = new AgentConfig
            {
                Id = key.Value,
                Owner = agent.String("owner", required: true, Checks.Email) ?? string.Empty,
                Groups = agent.Strings("groups", Checks.Name),
                Keys = ReadKeys(agent, key.Value, keyOwners),
                Credentials = ReadCredentials(agent, upstreams, upstreamNames),
            };
        }

        return agents;
    }

    private static List<string> ReadKeys(MappingView agent, string agentId, Dictionary<string, string> keyOwners)
    {
        var keys = new List<string>();
        var items = agent.List("keys");
        for (var i = 0; i < items.Count; i++)
        {
            var (hash, at) = items[i];
            var path = $"{agent.PathOf("keys")}[{i}]";

            // Never echo the value: it may be a raw key pasted by mistake.
            if (hash.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal))
            {
                agent.Reader.Error(at, path, "this is an API key, not its hash; store only the hash (sha256:<64 lowercase hex>)");
            }
            else if (!ApiKeys.IsWellFormedHash(hash))
            {
                agent.Reader.Error(at, path, "must be a key hash: sha256: followed by 64 lowercase hex digits");
            }
            else if (!keyOwners.TryAdd(hash, agentId))
            {
                var owner = keyOwners[hash];
                agent.Reader.Error(at, path, owner == agentId ? "the same key hash is listed twice" : $"this key hash is already a key of agent \"{owner}\"");
            }
            else
            {
                keys.Add(hash);
            }
        }

        return keys;
    }

    private static Dictionary<string, AgentCredentials> ReadCredentials(
        MappingView agent, IReadOnlyDictionary<string, UpstreamConfig> upstreams, ISet<string> upstreamNames)
    {
        var credentials = new Dictionary<string, AgentCredentials>(StringComparer.Ordinal);
        if (agent.Child("credentials") is not { } section)
        {
            return credentials;
        }

        foreach (var (key, value) in section.Entries)
        {
            var path = section.PathOf(key.Value);
            if (!upstreamNames.Contains(key.Value))
            {
                section.Reader.Error(key.Start, path, $"unknown upstream \"{key.Value}\"{FieldNames.Suggestion(key.Value, [.. upstreamNames])}");
            }

            if (section.Reader.Mapping(value, path, key.Start, CredentialFields) is not { } entry)
            {
                continue;
            }

            // Headers reach only HTTP upstreams and env only stdio ones; the other would be silently dropped.
            if (upstreams.TryGetValue(key.Value, out var upstream))
            {
                var misplaced = upstream.Type == UpstreamType.Http ? "env" : "headers";
                if (entry.Has(misplaced))
                {
                    section.Reader.Error(entry.KeyPosition(misplaced), entry.PathOf(misplaced),
                        $"upstream \"{key.Value}\" is a {upstream.Type.ToString().ToLowerInvariant()} upstream; use {(misplaced == "env" ? "headers" : "env")}");
                }
            }

            credentials[key.Value] = new AgentCredentials { Headers = entry.Map("headers"), Env = entry.Map("env") };
        }

        return credentials;
    }
}
