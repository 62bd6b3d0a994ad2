using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Configuration;

public sealed class GatewayConfigLoaderTests
{
    private const string KeyHash = "sha256:605ba8cebd23cbc9d8005ed3c569e1b316aa829555d36f8583ba76f96750b6e4";

    [Fact]
    public void Parse_FullConfiguration_MapsEveryField()
    {
        var result = ConfigTestFiles.Parse($$"""
            server:
              publicUrl: https://gateway.example.com
              allowedHosts: [gateway.example.com, "localhost:8080"]
              allowedOrigins: [https://gateway.example.com]
              toolSeparator: "."
              sessionIdleTimeout: 10m
              maxRequestBodyBytes: 65536
            upstreams:
              fs:
                type: stdio
                command: npx
                args: [-y, server-filesystem]
                env: {A: "1"}
                cwd: /srv/sandbox
                idempotentTools: [read_*]
              api:
                type: http
                url: http://127.0.0.1:9000/mcp
                headers: {X-Test: yes}
                timeout: 250ms
                oauth:
                  tokenUrl: https://login.example.com/token
                  clientId: gw
                  clientSecret: s3cret
                  scope: api.write
            agents:
              bot:
                owner: alice@example.com
                groups: [automation]
                keys: [{{KeyHash}}]
                credentials:
                  api:
                    headers: {X-On-Behalf-Of: bot}
            bundles:
              work:
                upstreams: [fs, api]
                tools: ["fs.read_*", "api.*"]
                agents: [bot, "group:automation"]
            approvers:
              platform:
                members: [carol@example.com]
            """);

        Assert.Empty(result.Errors);
        var config = Assert.IsType<GatewayConfig>(result.Config);
        Assert.Equal(new Uri("https://gateway.example.com"), config.Server.PublicUrl);
        Assert.Equal(["gateway.example.com", "localhost:8080"], config.Server.AllowedHosts);
        Assert.Equal(["https://gateway.example.com"], config.Server.AllowedOrigins);
        Assert.Equal(".", config.Server.ToolSeparator);
        Assert.Equal(TimeSpan.FromMinutes(10), config.Server.SessionIdleTimeout);
        Assert.Equal(65536, config.Server.MaxRequestBodyBytes);

        var fs = config.Upstreams["fs"];
        Assert.Equal(UpstreamType.Stdio, fs.Type);
        Assert.Equal("npx", fs.Command);
        Assert.Equal(["-y", "server-filesystem"], fs.Args);
        Assert.Equal("1", fs.Env["A"]);
        Assert.Equal("/srv/sandbox", fs.Cwd);
        Assert.Equal(UpstreamConfig.DefaultTimeout, fs.Timeout);
        Assert.Equal(["read_*"], fs.IdempotentTools);

        var api = config.Upstreams["api"];
        Assert.Equal(UpstreamType.Http, api.Type);
        Assert.Equal(new Uri("http://127.0.0.1:9000/mcp"), api.Url);
        Assert.Equal("yes", api.Headers["X-Test"]);
        Assert.Equal(TimeSpan.FromMilliseconds(250), api.Timeout);
        Assert.Equal("s3cret", api.OAuth!.ClientSecret);
        Assert.Equal("api.write", api.OAuth.Scope);
        Assert.DoesNotContain("s3cret", api.ToString(), StringComparison.Ordinal);

        var bot = config.Agents["bot"];
        Assert.Equal("alice@example.com", bot.Owner);
        Assert.Equal(["automation"], bot.Groups);
        Assert.Equal([KeyHash], bot.Keys);
        Assert.Equal("bot", bot.Credentials["api"].Headers["X-On-Behalf-Of"]);

        var work = config.Bundles["work"];
        Assert.Equal(["fs", "api"], work.Upstreams);
        Assert.Equal(["fs.read_*", "api.*"], work.Tools);
        Assert.True(work.Admits(bot));
        Assert.Equal(["carol@example.com"], config.Approvers["platform"].Members);
    }

    [Fact]
    public void Parse_MinimalConfiguration_UsesDefaults()
    {
        var result = ConfigTestFiles.Parse("""
            upstreams:
              memory: {type: stdio, command: npx}
            """);

        var config = Assert.IsType<GatewayConfig>(result.Config);
        Assert.Null(config.Server.PublicUrl);
        Assert.Equal("__", config.Server.ToolSeparator);
        Assert.Equal(TimeSpan.FromMinutes(30), config.Server.SessionIdleTimeout);
        Assert.Equal(4 * 1024 * 1024, config.Server.MaxRequestBodyBytes);
        Assert.Equal(TimeSpan.FromSeconds(60), config.Upstreams["memory"].Timeout);
        Assert.Empty(config.Agents);
        Assert.Empty(config.Bundles);
    }

    [Fact]
    public void Parse_RelativeCwd_ResolvesAgainstTheFileDirectory()
    {
        var result = GatewayConfigLoader.Parse("""
            upstreams:
              fs: {type: stdio, command: npx, cwd: sandbox}
            """, "/etc/approval-engine/gateway.yaml", _ => null);

        Assert.Equal("/etc/approval-engine/sandbox", result.Config!.Upstreams["fs"].Cwd);
    }

    [Fact]
    public void Parse_BundleAdmits_MatchesIdsAndGroupsOnly()
    {
        var bundle = new BundleConfig { Name = "b", Agents = ["bot", "group:ops"] };

        Assert.True(bundle.Admits(new AgentConfig { Id = "bot", Owner = "a@example.com" }));
        Assert.True(bundle.Admits(new AgentConfig { Id = "other", Owner = "a@example.com", Groups = ["ops"] }));
        Assert.False(bundle.Admits(new AgentConfig { Id = "other", Owner = "a@example.com", Groups = ["dev"] }));
    }

    [Fact]
    public void Load_MissingFile_ReportsTheFile()
    {
        using var files = new ConfigTestFiles();
        var path = Path.Combine(files.Directory, "absent.yaml");

        var result = GatewayConfigLoader.Load(path);

        Assert.Null(result.Config);
        Assert.Equal($"{path}:1:1: the file does not exist", Assert.Single(result.Errors).ToString());
    }

    [Fact]
    public void LoadOrThrow_InvalidFile_MessageListsEveryErrorOnItsOwnLine()
    {
        using var files = new ConfigTestFiles();
        files.Write("""
            upstreams:
              fs: {type: stdio}
              api: {type: http}
            """);

        var exception = Assert.Throws<GatewayConfigException>(() => GatewayConfigLoader.LoadOrThrow(files.ConfigPath));

        Assert.Equal(2, exception.Errors.Count);
        var lines = exception.Message.Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Contains("2 error(s)", lines[0], StringComparison.Ordinal);
        Assert.Equal($"{files.ConfigPath}:2:3: upstreams.fs.command: is required for a stdio upstream", lines[1]);
        Assert.Equal($"{files.ConfigPath}:3:3: upstreams.api.url: is required for an http upstream", lines[2]);
    }

    [Fact]
    public void Load_ExampleFile_LoadsWithoutErrors()
    {
        var path = Repository.PathOf("deploy", "gateway.example.yaml");

        var result = GatewayConfigLoader.Load(path, _ => null);

        Assert.Empty(result.Errors);
        var config = result.Config!;
        Assert.Equal(UpstreamType.Stdio, config.Upstreams["fs"].Type);
        Assert.Equal(UpstreamType.Stdio, config.Upstreams["memory"].Type);
        Assert.Equal(UpstreamType.Http, config.Upstreams["tickets"].Type);
        Assert.Equal(2, config.Agents.Count);
        Assert.NotEmpty(config.Bundles);
        Assert.NotEmpty(config.Approvers);
    }
}
