using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Tests.Configuration;

public sealed class ConfigErrorTests
{
    private const string Hash = "sha256:605ba8cebd23cbc9d8005ed3c569e1b316aa829555d36f8583ba76f96750b6e4";

    // Each document has exactly one problem: (case, yaml, line, column, field, part of the message).
    public static TheoryData<string, string, int, int, string, string> SingleErrors => new()
    {
        { "empty file", "", 1, 1, "", "the file is empty" },
        { "comments only", "# nothing here\n", 1, 1, "", "the file is empty" },
        { "yaml syntax", "upstreams:\n  fs: type: stdio\n", 2, 11, "", "YAML syntax error" },
        { "unterminated list at the end", "upstreams:\n  fs:\n    args: [a, b\n", 4, 1, "", "YAML syntax error" },
        { "unterminated list before a key", "upstreams:\n  fs:\n    args: [a, b\n    cwd: /tmp\n", 3, 0, "", "YAML syntax error" },
        { "two documents", "upstreams: {}\n---\nupstreams: {}\n", 2, 1, "", "single YAML document" },
        { "unknown section, suggested", "upstream: {}\n", 1, 1, "upstream", "did you mean \"upstreams\"?" },
        { "unknown field, listed", "server:\n  colour: red\n", 2, 3, "server.colour", "expected one of: publicUrl," },
        { "unknown field, suggested", "upstreams:\n  fs:\n    type: stdio\n    command: npx\n    timout: 5s\n", 5, 5, "upstreams.fs.timout", "did you mean \"timeout\"?" },
        { "root not a mapping", "- a\n- b\n", 1, 1, "", "expected a mapping, found a list" },
        { "wrong type, list", "upstreams:\n  fs:\n    type: stdio\n    command: npx\n    args: -y\n", 5, 11, "upstreams.fs.args", "expected a list, found a string" },
        { "wrong type, string", "upstreams:\n  fs:\n    type: stdio\n    command: [npx]\n", 4, 14, "upstreams.fs.command", "expected a string, found a list" },
        { "wrong type, mapping", "upstreams: [fs]\n", 1, 12, "upstreams", "expected a mapping, found a list" },
        { "wrong type, number", "server:\n  maxRequestBodyBytes: lots\n", 2, 24, "server.maxRequestBodyBytes", "is not a whole number (got \"lots\")" },
        { "number too small", "server:\n  maxRequestBodyBytes: 10\n", 2, 24, "server.maxRequestBodyBytes", "must be at least 1024" },
        { "stdio without command", "upstreams:\n  fs:\n    type: stdio\n", 2, 3, "upstreams.fs.command", "is required for a stdio upstream" },
        { "http without url", "upstreams:\n  api:\n    type: http\n", 2, 3, "upstreams.api.url", "is required for an http upstream" },
        { "missing type", "upstreams:\n  fs:\n    command: npx\n", 2, 3, "upstreams.fs.type", "is required" },
        { "upstream without body", "upstreams:\n  fs:\n", 2, 3, "upstreams.fs", "needs at least a type" },
        { "bad enum", "upstreams:\n  fs:\n    type: sdtio\n    command: npx\n", 3, 11, "upstreams.fs.type", "must be one of: stdio, http; did you mean \"stdio\"?" },
        { "field of the other kind", "upstreams:\n  fs:\n    type: stdio\n    command: npx\n    url: http://x\n", 5, 5, "upstreams.fs.url", "applies only to http upstreams" },
        { "bad duration", "upstreams:\n  fs:\n    type: stdio\n    command: npx\n    timeout: 30 secs\n", 5, 14, "upstreams.fs.timeout", "is not a duration; use a number and a unit" },
        { "zero duration", "server:\n  sessionIdleTimeout: 0s\n", 2, 23, "server.sessionIdleTimeout", "must be greater than zero" },
        { "bad url", "upstreams:\n  api:\n    type: http\n    url: ftp://files.example.com\n", 4, 10, "upstreams.api.url", "must be an absolute http or https URL (got \"ftp://files.example.com\")" },
        { "relative url", "server:\n  publicUrl: /gateway\n", 2, 14, "server.publicUrl", "must be an absolute http or https URL" },
        { "oauth without secret", "upstreams:\n  api:\n    type: http\n    url: http://a.example.com\n    oauth:\n      tokenUrl: http://a.example.com/t\n      clientId: x\n", 5, 5, "upstreams.api.oauth.clientSecret", "is required" },
        { "bad origin", "server:\n  allowedOrigins: [http://a.example.com/path]\n", 2, 20, "server.allowedOrigins[0]", "must be an origin" },
        { "bad separator", "server:\n  toolSeparator: \"::\"\n", 2, 18, "server.toolSeparator", "must be 1-8 of the characters" },
        { "name with separator", "upstreams:\n  my__fs: {type: stdio, command: npx}\n", 2, 3, "upstreams.my__fs", "must not contain the tool separator \"__\"" },
        { "bad name", "upstreams:\n  \"my fs\": {type: stdio, command: npx}\n", 2, 3, "upstreams.my fs", "the name must be 1-64 letters" },
        { "duplicate key", "upstreams:\n  fs: {type: stdio, command: npx}\n  fs: {type: stdio, command: node}\n", 3, 3, "upstreams.fs", "duplicate key \"fs\" (first defined at line 2)" },
        { "duplicate field", "upstreams:\n  fs:\n    type: stdio\n    command: npx\n    command: node\n", 5, 5, "upstreams.fs.command", "duplicate key" },
        { "bad email", $"agents:\n  bot:\n    owner: alice\n    keys: [{Hash}]\n", 3, 12, "agents.bot.owner", "must be an email address (got \"alice\")" },
        { "missing owner", $"agents:\n  bot:\n    keys: [{Hash}]\n", 2, 3, "agents.bot.owner", "is required" },
        { "missing keys", "agents:\n  bot:\n    owner: a@example.com\n", 2, 3, "agents.bot.keys", "is required" },
        { "bad key hash", "agents:\n  bot:\n    owner: a@example.com\n    keys: [sha256:ABC]\n", 4, 12, "agents.bot.keys[0]", "sha256: followed by 64 lowercase hex digits" },
        { "key shared by agents", $"agents:\n  a:\n    owner: a@example.com\n    keys: [{Hash}]\n  b:\n    owner: b@example.com\n    keys: [{Hash}]\n", 7, 12, "agents.b.keys[0]", "already a key of agent \"a\"" },
        { "credentials for unknown upstream", $"upstreams:\n  fs: {{type: stdio, command: npx}}\nagents:\n  bot:\n    owner: a@example.com\n    keys: [{Hash}]\n    credentials:\n      fss: {{env: {{A: b}}}}\n", 8, 7, "agents.bot.credentials.fss", "unknown upstream \"fss\"; did you mean \"fs\"?" },
        { "headers for a stdio upstream", $"upstreams:\n  fs: {{type: stdio, command: npx}}\nagents:\n  bot:\n    owner: a@example.com\n    keys: [{Hash}]\n    credentials:\n      fs: {{headers: {{A: b}}}}\n", 8, 12, "agents.bot.credentials.fs.headers", "is a stdio upstream; use env" },
        { "bundle with unknown upstream", "upstreams:\n  fs: {type: stdio, command: npx}\nbundles:\n  b:\n    upstreams: [fs, memory]\n", 5, 21, "bundles.b.upstreams", "unknown upstream \"memory\"" },
        { "bundle without upstreams", "bundles:\n  b:\n    agents: []\n", 2, 3, "bundles.b.upstreams", "is required" },
        { "bundle with unknown agent", "upstreams:\n  fs: {type: stdio, command: npx}\nbundles:\n  b:\n    upstreams: [fs]\n    agents: [ghost]\n", 6, 14, "bundles.b.agents", "unknown agent \"ghost\"" },
        { "bundle with unknown group", $"upstreams:\n  fs: {{type: stdio, command: npx}}\nagents:\n  bot: {{owner: a@example.com, groups: [ops], keys: [{Hash}]}}\nbundles:\n  b:\n    upstreams: [fs]\n    agents: [\"group:opz\"]\n", 8, 14, "bundles.b.agents", "no agent is in group \"opz\"; did you mean \"ops\"?" },
        { "tool without separator", "upstreams:\n  fs: {type: stdio, command: npx}\nbundles:\n  b:\n    upstreams: [fs]\n    tools: [read_file]\n", 6, 13, "bundles.b.tools", "must be written upstream__tool" },
        { "tool of another upstream", "upstreams:\n  fs: {type: stdio, command: npx}\n  mem: {type: stdio, command: npx}\nbundles:\n  b:\n    upstreams: [fs]\n    tools: [\"mem__*\"]\n", 7, 13, "bundles.b.tools", "not in this bundle's upstreams" },
        { "approver email", "approvers:\n  ops:\n    members: [carol]\n", 3, 15, "approvers.ops.members[0]", "must be an email address" },
        { "approvers without members", "approvers:\n  ops: {}\n", 2, 3, "approvers.ops.members", "is required" },
        { "unknown anchor", "upstreams:\n  fs: *base\n", 2, 7, "", "unknown YAML anchor *base" },
    };

    [Theory]
    [MemberData(nameof(SingleErrors))]
    public void Parse_OneProblem_ReportsItsPositionAndField(string name, string yaml, int line, int column, string field, string message)
    {
        var result = ConfigTestFiles.Parse(yaml);

        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.True(error.Line == line && (column == 0 || error.Column == column) && error.Field == field, $"{name}: got {error}");
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal("gateway.yaml", error.File);
    }

    [Fact]
    public void Parse_FiveDifferentProblems_ReportsAllFiveInFileOrder()
    {
        var result = ConfigTestFiles.Parse("""
            server:
              sessionIdleTimeout: forever
            upstreams:
              fs:
                type: stdio
                command: npx
                timout: 5s
              api:
                type: http
                url: not-a-url
            agents:
              bot:
                owner: bob
                keys: []
            bundles:
              b:
                upstreams: [fs, nope]
            """);

        Assert.Null(result.Config);
        Assert.Equal(
            [
                "gateway.yaml:2:23: server.sessionIdleTimeout",
                "gateway.yaml:7:5: upstreams.fs.timout",
                "gateway.yaml:10:10: upstreams.api.url",
                "gateway.yaml:13:12: agents.bot.owner",
                "gateway.yaml:17:21: bundles.b.upstreams",
            ],
            result.Errors.Select(e => $"{e.File}:{e.Line}:{e.Column}: {e.Field}"));
    }

    [Fact]
    public void ToString_WithAndWithoutField_IsFileLineColumnFieldMessage()
    {
        Assert.Equal("g.yaml:3:7: upstreams.fs.command: is required", new ConfigError("g.yaml", 3, 7, "upstreams.fs.command", "is required").ToString());
        Assert.Equal("g.yaml:1:1: the file is empty", new ConfigError("g.yaml", 1, 1, string.Empty, "the file is empty").ToString());
    }

    [Fact]
    public void Parse_RawApiKeyInsteadOfHash_ReportsWithoutEchoingTheKey()
    {
        const string Key = "ae_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

        var result = ConfigTestFiles.Parse($"agents:\n  bot:\n    owner: a@example.com\n    keys: [{Key}]\n");

        var error = Assert.Single(result.Errors);
        Assert.Equal("agents.bot.keys[0]", error.Field);
        Assert.Contains("not its hash", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, error.ToString(), StringComparison.Ordinal);
    }
}
