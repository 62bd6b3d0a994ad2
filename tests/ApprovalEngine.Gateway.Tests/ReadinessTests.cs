using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Health;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;
using Microsoft.Extensions.Hosting;

namespace ApprovalEngine.Gateway.Tests;

/// <summary>/readyz with upstreams: a real upstream that works and one in a crash loop, and a node that is stopping.</summary>
public sealed class ReadinessTests : IAsyncLifetime
{
    private McpGateway gateway = null!;

    public async Task InitializeAsync()
    {
        var sandbox = Directory.CreateTempSubdirectory("ae-ready-").FullName;
        var filesystem = NodePeers.ServerFilesystem(sandbox);
        gateway = await McpGateway.StartAsync($$"""
            upstreams:
              fs:
                type: stdio
                command: {{filesystem.FileName}}
                args: {{JsonSerializer.Serialize(filesystem.Arguments)}}
              crashing:
                type: stdio
                command: {{filesystem.FileName}}
                args: ["-e", "process.exit(3)"]
            """);
    }

    public async Task DisposeAsync() => await gateway.DisposeAsync();

    [Fact]
    public async Task Readyz_AnUpstreamInACrashLoop_Answers200DegradedNamingItAndItsState()
    {
        using var client = gateway.CreateHttpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        JsonNode body;
        do
        {
            await Task.Delay(100, timeout.Token);
            using var response = await client.GetAsync("readyz", timeout.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            body = JsonNode.Parse(await response.Content.ReadAsStringAsync(timeout.Token))!;
        }
        while (body["upstreams"]?["fs"]?.GetValue<string>() != "ready" || body["upstreams"]?["crashing"]?.GetValue<string>() != "failed");

        Assert.Equal("degraded", body["status"]!.GetValue<string>());
        Assert.Equal("upstreams not ready: crashing (failed)", body["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Readyz_NodeStopping_IsUnavailableSoLoadBalancersDrainIt()
    {
        var probe = gateway.Get<ReadinessProbe>();

        gateway.Get<IHostApplicationLifetime>().StopApplication();
        var report = await probe.CheckAsync(CancellationToken.None);

        Assert.False(report.IsReady);
        Assert.Equal(("unavailable", "the node is shutting down"), (report.Status, report.Reason));
    }
}
