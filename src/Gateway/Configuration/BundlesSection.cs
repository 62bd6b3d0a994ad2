namespace ApprovalEngine.Gateway.Configuration;

internal static class BundlesSection
{
    private static readonly string[] Fields = ["upstreams", "tools", "agents", "namespaced"];

    public static Dictionary<string, BundleConfig> Read(MappingView root, ISet<string> upstreamNames, IReadOnlyDictionary<string, AgentConfig> agents, string separator)
    {
        var bundles = new Dictionary<string, BundleConfig>(StringComparer.Ordinal);
        if (root.Child("bundles") is not { } section)
        {
            return bundles;
        }

        var groups = agents.Values.SelectMany(agent => agent.Groups).ToHashSet(StringComparer.Ordinal);
        foreach (var (key, value) in section.Entries)
        {
            var path = section.PathOf(key.Value);
            if (Checks.Name(key.Value) is { } problem)
            {
                section.Reader.Error(key.Start, path, $"the name {problem} (got \"{key.Value}\")");
            }

            if (section.Reader.Mapping(value, path, key.Start, Fields) is not { } bundle)
            {
                if (value is YScalar { IsNull: true })
                {
                    section.Reader.Error(key.Start, path, "a bundle needs at least its upstreams");
                }

                continue;
            }

            var members = ReadUpstreams(bundle, upstreamNames);
            var namespaced = bundle.Choice("namespaced", required: false, "true", "false") is not "false";
            if (!namespaced && members.Count > 1)
            {
                bundle.Reader.Error(bundle.KeyPosition("namespaced"), bundle.PathOf("namespaced"), $"namespaced: false needs exactly one upstream, so that names cannot collide (this bundle has {members.Count})");
            }

            bundles[key.Value] = new BundleConfig
            {
                Name = key.Value,
                Upstreams = members,
                Tools = ReadTools(bundle, members, separator),
                Agents = ReadAgents(bundle, agents, groups),
                Namespaced = namespaced,
            };
        }

        return bundles;
    }

    private static List<string> ReadUpstreams(MappingView bundle, ISet<string> upstreamNames)
    {
        if (!bundle.Has("upstreams"))
        {
            bundle.Missing("upstreams");
        }

        var members = new List<string>();
        foreach (var (name, at) in bundle.List("upstreams"))
        {
            if (!upstreamNames.Contains(name))
            {
                bundle.Reader.Error(at, bundle.PathOf("upstreams"), $"unknown upstream \"{name}\"{FieldNames.Suggestion(name, [.. upstreamNames])}");
            }
            else if (members.Contains(name))
            {
                bundle.Reader.Error(at, bundle.PathOf("upstreams"), $"upstream \"{name}\" is listed twice");
            }
            else
            {
                members.Add(name);
            }
        }

        return members;
    }

    private static List<string> ReadTools(MappingView bundle, List<string> members, string separator)
    {
        var tools = new List<string>();
        foreach (var (glob, at) in bundle.List("tools", Checks.Glob))
        {
            var split = glob.IndexOf(separator, StringComparison.Ordinal);
            var upstream = split < 0 ? null : glob[..split];
            if (upstream is null)
            {
                bundle.Reader.Error(at, bundle.PathOf("tools"), $"\"{glob}\" must be written upstream{separator}tool (globs allowed, e.g. fs{separator}read_*)");
            }
            else if (!Checks.HasWildcard(upstream) && !members.Contains(upstream))
            {
                bundle.Reader.Error(at, bundle.PathOf("tools"), $"\"{glob}\" names upstream \"{upstream}\", which is not in this bundle's upstreams");
            }
            else
            {
                tools.Add(glob);
            }
        }

        return tools;
    }

    private static List<string> ReadAgents(MappingView bundle, IReadOnlyDictionary<string, AgentConfig> agents, HashSet<string> groups)
    {
        var members = new List<string>();
        foreach (var (member, at) in bundle.List("agents"))
        {
            if (member.StartsWith(BundleConfig.GroupPrefix, StringComparison.Ordinal))
            {
                var group = member[BundleConfig.GroupPrefix.Length..];
                if (!groups.Contains(group))
                {
                    bundle.Reader.Error(at, bundle.PathOf("agents"), $"no agent is in group \"{group}\"{FieldNames.Suggestion(group, groups)}");
                    continue;
                }
            }
            else if (!agents.ContainsKey(member))
            {
                bundle.Reader.Error(at, bundle.PathOf("agents"), $"unknown agent \"{member}\"{FieldNames.Suggestion(member, [.. agents.Keys])} (write group:<name> for a group)");
                continue;
            }

            members.Add(member);
        }

        return members;
    }
}
