using System.Net;
using ApprovalEngine.Gateway.Mcp;
using ApprovalEngine.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalEngine.Gateway.Tests.Mcp;

public sealed class SessionEvictionTests
{
    [Fact]
    public async Task Sweep_SessionIdlePastTimeout_ClosesItAndItsIdGets404()
    {
        var clock = new ManualTimeProvider();
        await using var gateway = await McpGateway.StartAsync(
            McpHttpEndpointTests.Config("  sessionIdleTimeout: 10m"),
            services => services.AddSingleton<TimeProvider>(clock));
        using var client = gateway.CreateHttpClient();
        var sessions = gateway.Get<AgentSessions>();
        var idle = await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));

        // Advancing fires the sweeper's own timer too; each explicit sweep makes sure it has run by the assertion.
        clock.Advance(TimeSpan.FromMinutes(9));
        var busy = await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));
        await sessions.SweepAsync();
        var survivedEarly = sessions.Find(idle) is not null;
        clock.Advance(TimeSpan.FromMinutes(2));
        await sessions.SweepAsync();
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Request(5, "tools/list"), session: idle));

        Assert.True(survivedEarly);
        Assert.Null(sessions.Find(idle));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.NotNull(sessions.Find(busy));
    }
}
