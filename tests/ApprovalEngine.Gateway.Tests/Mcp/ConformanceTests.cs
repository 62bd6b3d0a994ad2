using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>
/// The official conformance suite (<c>--suite all</c>) against the gateway, in front of the fixture server that
/// implements the suite's tools, resources and prompts. The bundle is not namespaced, so the suite sees the names
/// it expects. Scenarios the gateway cannot pass are listed, with reasons, in tests/mcp-peers/conformance-expected-failures.yml;
/// the suite itself fails the run on an unexpected failure and on a listed scenario that passes.
/// </summary>
public sealed class ConformanceTests
{
    [Fact]
    public async Task SuiteAll_ThroughTheGateway_MatchesTheExpectedFailures()
    {
        await using var fixture = await NodePeers.StartFixtureServerAsync();
        await using var gateway = await McpGateway.StartAsync($$"""
            upstreams:
              fixture:
                type: http
                url: {{fixture.Url}}
            agents:
              conformance:
                owner: qa@example.com
                keys: ["{key:conformance}"]
            bundles:
              conformance:
                upstreams: [fixture]
                agents: [conformance]
                namespaced: false
            """);
        await WaitUntilListedAsync(gateway);

        var run = await NodePeers.RunConformanceAsync(
            gateway.Url("conformance"), "all", NodePeers.ExpectedFailuresPath, TimeSpan.FromMinutes(5), bearer: gateway.KeyOf("conformance"));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(run.Scenarios.Count >= 30, $"Only {run.Scenarios.Count} scenarios ran.\n{run}");
    }

    private static async Task WaitUntilListedAsync(McpGateway gateway)
    {
        var upstreams = gateway.Get<Gateway.Upstreams.IUpstreams>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!(upstreams.Catalog.Upstreams.TryGetValue("fixture", out var entry) && entry.Tools.Count > 0))
        {
            await Task.Delay(100, deadline.Token);
        }
    }
}
