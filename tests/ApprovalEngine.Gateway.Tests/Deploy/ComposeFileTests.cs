using System.Text.RegularExpressions;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Health;
using ApprovalEngine.Testing;
using YamlDotNet.RepresentationModel;

namespace ApprovalEngine.Gateway.Tests.Deploy;

/// <summary>
/// No Docker engine runs here, so docker-compose.yml and the Dockerfile are checked as files: the services and how
/// they depend on each other, ports, healthchecks, the gateway's environment (secrets only by reference), and the
/// mounted gateway configuration, which must load with the environment compose gives it.
/// </summary>
public sealed partial class ComposeFileTests
{
    private static readonly YamlMappingNode Compose = Load(Repository.PathOf("docker-compose.yml"));
    private static readonly YamlMappingNode Services = (YamlMappingNode)Compose["services"];

    [Fact]
    public void Compose_Services_ArePostgresTheGatewayAndAnExampleUpstream() =>
        Assert.Equal(["everything", "gateway", "postgres"], Services.Children.Keys.Select(key => key.ToString()).Order());

    [Fact]
    public void Postgres_HasAVolumeAHealthcheckAndAPasswordFromTheEnvironment()
    {
        var postgres = Service("postgres");

        Assert.StartsWith("postgres:", Text(postgres, "image"), StringComparison.Ordinal);
        var volume = Assert.Single(List(postgres, "volumes"));
        Assert.Equal("postgres-data:/var/lib/postgresql/data", volume);
        Assert.True(((YamlMappingNode)Compose["volumes"]).Children.ContainsKey("postgres-data"));
        Assert.Contains("pg_isready -U approval_engine -d approval_engine", string.Join(' ', List(Mapping(postgres, "healthcheck"), "test")), StringComparison.Ordinal);
        Assert.StartsWith("${POSTGRES_PASSWORD:?", Text(Mapping(postgres, "environment"), "POSTGRES_PASSWORD"), StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_WaitsForHealthyDependencies_PublishesOnLoopback_AndProbesReadiness()
    {
        var gateway = Service("gateway");

        Assert.Equal(".", Text(gateway, "build"));
        var dependsOn = Mapping(gateway, "depends_on");
        Assert.Equal("service_healthy", Text(Mapping(dependsOn, "postgres"), "condition"));
        Assert.Equal("service_healthy", Text(Mapping(dependsOn, "everything"), "condition"));
        Assert.Equal(["127.0.0.1:8080:8080"], List(gateway, "ports"));
        Assert.Equal(["CMD", "dotnet", "ApprovalEngine.Gateway.dll", ProbeCommand.Name, "http://127.0.0.1:8080/readyz"], List(Mapping(gateway, "healthcheck"), "test"));
        Assert.Equal("45s", Text(gateway, "stop_grace_period"));
    }

    [Fact]
    public void Gateway_Environment_NamesItsDatabaseAndConfigAndHoldsNoLiteralSecret()
    {
        var environment = Mapping(Service("gateway"), "environment");

        Assert.Equal("http://+:8080", Text(environment, "ASPNETCORE_URLS"));
        Assert.Equal("/etc/approval-engine/gateway.yaml", Text(environment, ConfigurationHosting.ConfigFileKey.Replace(":", "__", StringComparison.Ordinal)));
        var connection = Text(environment, "ConnectionStrings__ApprovalEngine");
        Assert.Contains("Host=postgres;", connection, StringComparison.Ordinal);
        Assert.Contains("Password=${POSTGRES_PASSWORD:?", connection, StringComparison.Ordinal);

        // Every value that carries a secret or a hash is a reference to the operator's environment, never a literal.
        foreach (var (name, value) in environment.Children.Select(entry => (entry.Key.ToString(), entry.Value.ToString())))
        {
            if (SecretName().IsMatch(name))
            {
                Assert.Matches(@"^\$\{" + name + "(:\\?|:-)", value);
            }
        }

        Assert.Contains(Mapping(Service("gateway"), "environment").Children.Keys, key => key.ToString() == "AE_AGENT_KEY_HASH");
    }

    [Fact]
    public void Gateway_MountedConfig_LoadsWithTheComposeEnvironmentAndPointsAtTheExampleUpstream()
    {
        var mount = Assert.Single(List(Service("gateway"), "volumes"));
        var parts = mount.Split(':');
        Assert.Equal(["./deploy/compose/gateway.yaml", "/etc/approval-engine/gateway.yaml", "ro"], parts);
        var environment = new Dictionary<string, string>
        {
            ["AE_AGENT_KEY_HASH"] = "sha256:" + new string('a', 64),
            ["AE_ADMIN_TOKEN_HASH"] = "sha256:" + new string('b', 64),
        };

        var result = GatewayConfigLoader.Load(Repository.PathOf("deploy", "compose", "gateway.yaml"), environment.GetValueOrDefault);

        Assert.Empty(result.Errors);
        var upstream = Assert.Single(result.Config!.Upstreams.Values);
        Assert.Equal(UpstreamType.Http, upstream.Type);

        // The upstream's host and port are the example service's name and the port it listens on.
        var everything = Service("everything");
        Assert.Equal(new Uri($"http://everything:{Text(Mapping(everything, "environment"), "PORT")}/mcp"), upstream.Url);
        Assert.Contains("streamableHttp", List(everything, "command"));
        Assert.NotNull(Mapping(everything, "healthcheck"));
    }

    [Fact]
    public void Dockerfile_PublishesTheGatewayAndRunsItAsNonRootWithTheProbe()
    {
        var dockerfile = File.ReadAllText(Repository.PathOf("Dockerfile"));

        Assert.Contains("dotnet publish src/Gateway/ApprovalEngine.Gateway.csproj -c Release", dockerfile, StringComparison.Ordinal);
        Assert.Contains("USER app", dockerfile, StringComparison.Ordinal);
        Assert.Contains("ENTRYPOINT [\"dotnet\", \"ApprovalEngine.Gateway.dll\"]", dockerfile, StringComparison.Ordinal);
        Assert.Contains("\"probe\"]", dockerfile, StringComparison.Ordinal);

        // Every project file the restore layer copies exists: a renamed project would break the image build.
        foreach (Match copy in CopiedProject().Matches(dockerfile))
        {
            Assert.True(File.Exists(Repository.PathOf(copy.Groups["path"].Value.Split('/'))), $"the Dockerfile copies {copy.Groups["path"].Value}, which does not exist");
        }
    }

    private static YamlMappingNode Load(string path)
    {
        using var reader = new StreamReader(path);
        var stream = new YamlStream();
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static YamlMappingNode Service(string name) => (YamlMappingNode)Services[name];

    private static YamlMappingNode Mapping(YamlMappingNode node, string key) => (YamlMappingNode)node[key];

    private static string Text(YamlMappingNode node, string key) => ((YamlScalarNode)node[key]).Value!;

    private static List<string> List(YamlMappingNode node, string key) => [.. ((YamlSequenceNode)node[key]).Children.Select(item => item.ToString())];

    [GeneratedRegex("(PASSWORD|SECRET|TOKEN|HASH|KEY)", RegexOptions.CultureInvariant)]
    private static partial Regex SecretName();

    [GeneratedRegex(@"^COPY (?<path>src/\S+\.csproj) ", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex CopiedProject();
}
