using System.Net;
using System.Text.Json;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests;

public sealed class HealthEndpointsTests
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Healthz_HostRunning_ReturnsOk()
    {
        await using var factory = GatewayFactory.ForDatabase(await TestPostgres.CreateDatabaseAsync("gw_health", migrate: false));
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Readyz_DatabaseUp_Returns200()
    {
        // Not migrated beforehand: the host's own migration at start must have run for the node to become ready.
        await using var factory = GatewayFactory.ForDatabase(await TestPostgres.CreateDatabaseAsync("gw_ready", migrate: false));
        using var client = factory.CreateClient();

        using var response = await GatewayFactory.WaitForStatusAsync(client, "/readyz", HttpStatusCode.OK, ReadyTimeout);

        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("ready", body.RootElement.GetProperty("status").GetString());
        Assert.False(body.RootElement.TryGetProperty("reason", out _));
    }

    [Fact]
    public async Task Readyz_DatabaseUnreachable_Returns503WithReason()
    {
        var unreachable = $"Host=127.0.0.1;Port={GatewayFactory.ClosedPort()};Username=postgres;Database=nowhere;Timeout=2";
        await using var factory = GatewayFactory.ForDatabase(unreachable, ("ApprovalEngine:Runtime:MigrateOnStart", "false"));
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("unavailable", body.RootElement.GetProperty("status").GetString());
        Assert.Equal("the database is unreachable", body.RootElement.GetProperty("reason").GetString());

        // Liveness is unaffected by the outage.
        using var live = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }
}
