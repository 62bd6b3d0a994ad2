using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Peers;

/// <summary>
/// A gateway in front of the fixture server (HTTP) as upstream "fixture", in bundle "all" for agent "agent", with a
/// small request limit; ready once the fixture's tools are listed.
/// </summary>
public class FixtureGateway : IAsyncLifetime
{
    public const int MaxRequestBodyBytes = 65_536;

    public McpGateway Gateway { get; private set; } = null!;

    public FixtureServer Fixture { get; private set; } = null!;

    public string Url => Gateway.Url("all");

    public string Key => Gateway.KeyOf("agent");

    public async Task InitializeAsync()
    {
        Fixture = await NodePeers.StartFixtureServerAsync();
        Gateway = await McpGateway.StartAsync($$"""
            server:
              maxRequestBodyBytes: {{MaxRequestBodyBytes}}
            upstreams:
              fixture:
                type: http
                url: {{Fixture.Url}}
            agents:
              agent:
                owner: owner@example.com
                keys: ["{key:agent}"]
            bundles:
              all:
                upstreams: [fixture]
                agents: [agent]
            """);
        var upstreams = Gateway.Get<Gateway.Upstreams.IUpstreams>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!(upstreams.Catalog.Upstreams.TryGetValue("fixture", out var entry) && entry.Tools.Count > 0))
        {
            await Task.Delay(50, deadline.Token);
        }
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Fixture.DisposeAsync();
    }
}
