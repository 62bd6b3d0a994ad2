using System.Collections.ObjectModel;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>The real MCP servers the upstream tests drive: npm reference servers and our fixtures, run by the system node.</summary>
internal static class Peers
{
    private static readonly Lazy<string> Root = new(FindRoot);

    public static string Node => "node";

    public static string ServerEverything => Package("server-everything");

    public static string ServerFilesystem => Package("server-filesystem");

    public static string ServerMemory => Package("server-memory");

    public static string Fixture => Path.Combine(Root.Value, "upstream-fixtures", "fixture-server.mjs");

    public static string Launcher => Path.Combine(Root.Value, "upstream-fixtures", "launcher.mjs");

    public static string LoopbackListen => Path.Combine(Root.Value, "upstream-fixtures", "loopback-listen.mjs");

    public static readonly AgentConfig AnyAgent = new() { Id = "agent-plain", Owner = "owner@example.com" };

    public static UpstreamCallContext Context(AgentConfig? agent = null, IProgress<ModelContextProtocol.ProgressNotificationValue>? progress = null, IAgentChannel? channel = null) =>
        new() { Agent = agent ?? AnyAgent, Progress = progress, Channel = channel };

    public static UpstreamConfig Stdio(string name, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? env = null, TimeSpan? timeout = null, string? command = null) => new()
    {
        Name = name,
        Type = UpstreamType.Stdio,
        Command = command ?? Node,
        Args = args,
        Env = env ?? ReadOnlyDictionary<string, string>.Empty,
        Timeout = timeout ?? TimeSpan.FromSeconds(30),
    };

    public static UpstreamConfig FixtureStdio(string name, IReadOnlyDictionary<string, string>? env = null, TimeSpan? timeout = null) =>
        Stdio(name, [Fixture, "stdio"], env, timeout);

    public static UpstreamConfig EverythingStdio(string name = "everything") => Stdio(name, [ServerEverything, "stdio"]);

    public static UpstreamConfig Http(string name, Uri url, IReadOnlyDictionary<string, string>? headers = null, OAuthClientConfig? oauth = null) => new()
    {
        Name = name,
        Type = UpstreamType.Http,
        Url = url,
        Headers = headers ?? ReadOnlyDictionary<string, string>.Empty,
        OAuth = oauth,
        Timeout = TimeSpan.FromSeconds(30),
    };

    public static GatewayConfig Config(params UpstreamConfig[] upstreams) => Config(upstreams, []);

    public static GatewayConfig Config(IEnumerable<UpstreamConfig> upstreams, IEnumerable<AgentConfig> agents) => new()
    {
        Upstreams = upstreams.ToDictionary(u => u.Name),
        Agents = agents.ToDictionary(a => a.Id),
    };

    private static string Package(string name) => Path.Combine(Root.Value, "node_modules", "@modelcontextprotocol", name, "dist", "index.js");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "mcp-peers");
            if (Directory.Exists(Path.Combine(candidate, "node_modules", "@modelcontextprotocol", "server-everything")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("tests/mcp-peers/node_modules not found above the test binaries: run `npm ci` in tests/mcp-peers");
    }
}
