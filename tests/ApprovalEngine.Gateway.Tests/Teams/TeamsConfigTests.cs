using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Tests.Configuration;

namespace ApprovalEngine.Gateway.Tests.Teams;

public sealed class TeamsConfigTests
{
    private const string Upstreams = "upstreams:\n  fs: {type: http, url: \"http://127.0.0.1:1/mcp\"}\n";

    [Fact]
    public void Parse_TeamsSection_MapsEverythingAndResolvesTheSecretReference()
    {
        var result = ConfigTestFiles.Parse(Upstreams + """
            teams:
              appId: app-1
              appPassword: ${env:TEAMS_SECRET}
              tenantId: tenant-9
              tokenUrl: "http://127.0.0.1:5/{tenantId}/token"
            approvers:
              ops:
                members: [a@example.com]
                teams: {channels: ["19:x@thread.tacv2", "Ops/Approvals"], users: [a@example.com]}
            """, new Dictionary<string, string> { ["TEAMS_SECRET"] = "s3cret" });

        var teams = result.Config!.Teams!;
        Assert.Equal(("app-1", "s3cret", "tenant-9"), (teams.AppId, teams.AppPassword, teams.TenantId));
        Assert.Equal(new Uri("http://127.0.0.1:5/tenant-9/token"), teams.TokenUrl);
        Assert.Equal(TeamsConfig.DefaultOpenIdMetadataUrl, teams.OpenIdMetadataUrl);
        Assert.False(teams.DevelopmentMode);
        Assert.DoesNotContain("s3cret", teams.ToString(), StringComparison.Ordinal);
        Assert.Equal(["19:x@thread.tacv2", "Ops/Approvals"], result.Config.Approvers["ops"].Teams!.Channels);
        Assert.Equal(["a@example.com"], result.Config.Approvers["ops"].Teams!.Users);
    }

    [Fact]
    public void Parse_TeamsWithoutAppId_IsDevelopmentModeAndOnlyHttpsServiceUrlsAreNotNeeded()
    {
        var teams = ConfigTestFiles.Parse(Upstreams + "teams: {}\n").Config!.Teams!;

        Assert.True(teams.DevelopmentMode);
        Assert.True(teams.AllowsServiceUrl("http://127.0.0.1:3978/"));
    }

    [Theory]
    [InlineData("teams:\n  appId: app-1\n  tenantId: t\n", "teams.appPassword", "is required with appId")]
    [InlineData("teams:\n  appId: app-1\n  appPassword: p\n", "teams.tenantId", "is required with appId")]
    [InlineData("approvers:\n  ops:\n    members: [a@example.com]\n    teams: {channels: [\"19:x\"]}\n", "approvers.ops.teams", "needs the top-level teams section")]
    [InlineData("teams: {}\napprovers:\n  ops:\n    members: [a@example.com]\n    teams: {channels: [general]}\n", "approvers.ops.teams.channels[0]", "must be a channel id")]
    [InlineData("teams: {}\napprovers:\n  ops:\n    members: [a@example.com]\n    teams: {}\n", "approvers.ops.teams", "needs channels, users, or both")]
    public void Parse_BadTeamsConfig_NamesTheField(string yaml, string field, string message)
    {
        var result = ConfigTestFiles.Parse(Upstreams + yaml);

        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
