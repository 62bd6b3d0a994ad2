using System.Text;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>
/// Loads the gateway's YAML file into a <see cref="GatewayConfig"/>, reporting every problem at once with its
/// file, line, column and field. Secret references are resolved; errors show only the references.
/// </summary>
public static class GatewayConfigLoader
{
    private static readonly string[] Sections = ["server", "upstreams", "agents", "bundles", "approvers", "users", "oidc", "policy", "slack", "teams"];

    public static ConfigLoadResult Load(string path) => Load(path, Environment.GetEnvironmentVariable);

    /// <param name="path">The YAML file.</param>
    /// <param name="environment">Looks up <c>${env:NAME}</c> references (tests pass their own).</param>
    public static ConfigLoadResult Load(string path, Func<string, string?> environment)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var message = e is FileNotFoundException or DirectoryNotFoundException ? "the file does not exist" : $"cannot read the file: {e.Message}";
            return new ConfigLoadResult { Errors = [new ConfigError(path, 1, 1, string.Empty, message)] };
        }

        return Parse(text, path, environment);
    }

    /// <summary>Loads configuration text as if read from <paramref name="path"/> (relative references resolve against its directory).</summary>
    public static ConfigLoadResult Parse(string yaml, string path, Func<string, string?> environment)
    {
        var baseDirectory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? Directory.GetCurrentDirectory();
        var reader = new ConfigReader(path, baseDirectory, new SecretReferences(baseDirectory, environment));
        var root = YamlTree.Parse(new StringReader(yaml), (at, message) => reader.Error(at, string.Empty, message));
        if (reader.Errors.Count > 0)
        {
            return new ConfigLoadResult { Errors = reader.Errors };
        }

        if (root is null or YScalar { IsNull: true })
        {
            reader.Error(Position.FileStart, string.Empty, "the file is empty; it needs at least an upstreams section");
            return new ConfigLoadResult { Errors = reader.Errors };
        }

        var config = Map(reader, root);
        return reader.Errors.Count > 0 || config is null
            ? new ConfigLoadResult { Errors = [.. reader.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column)] }
            : new ConfigLoadResult { Config = config };
    }

    /// <summary>Loads the file or throws a <see cref="GatewayConfigException"/> listing every error.</summary>
    public static GatewayConfig LoadOrThrow(string path)
    {
        var result = Load(path);
        return result.Config ?? throw new GatewayConfigException(path, result.Errors);
    }

    private static GatewayConfig? Map(ConfigReader reader, YNode node)
    {
        if (reader.Mapping(node, string.Empty, Position.FileStart, Sections) is not { } root)
        {
            return null;
        }

        // Sections are read in dependency order (not file order) so each can check its references.
        var server = ServerSection.Read(root);
        var upstreamNames = DeclaredNames(root, "upstreams");
        var upstreams = UpstreamsSection.Read(root, server.ToolSeparator);
        var agents = AgentsSection.Read(root, upstreams, upstreamNames);
        var bundles = BundlesSection.Read(root, upstreamNames, agents, server.ToolSeparator);
        var approvers = ApproversSection.Read(root);
        var users = UsersSection.Read(root, agents);
        var policy = PolicySection.Read(root, new PolicyReferences(
            Agents: agents.Keys.ToHashSet(StringComparer.Ordinal),
            AgentGroups: agents.Values.SelectMany(a => a.Groups).ToHashSet(StringComparer.Ordinal),
            Bundles: DeclaredNames(root, "bundles"),
            Upstreams: upstreamNames,
            ApproverGroups: DeclaredNames(root, "approvers"),
            ApproverMembers: approvers.ToDictionary(g => g.Key, g => g.Value.Members, StringComparer.Ordinal),
            Separator: server.ToolSeparator));
        return new GatewayConfig
        {
            Server = server,
            Upstreams = upstreams,
            Agents = agents,
            Bundles = bundles,
            Approvers = approvers,
            Users = users,
            Oidc = OidcSection.Read(root),
            Policy = policy,
            Teams = TeamsSection.Read(root),
            Slack = SlackSection.Read(root),
        };
    }

    /// <summary>Every name declared in a section, valid or not, so that one bad entry does not also fail every reference to it.</summary>
    private static HashSet<string> DeclaredNames(MappingView root, string section) =>
        root.Node(section) is YMapping mapping
            ? mapping.Entries.Select(entry => entry.Key.Value).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);
}
