using System.Net;
using ApprovalEngine.Gateway.Health;
using ApprovalEngine.Gateway.Tests.Mcp;

namespace ApprovalEngine.Gateway.Tests.Deploy;

public sealed class ProbeCommandTests
{
    [Fact]
    public async Task Probe_ReadyGateway_ExitsZeroWithTheReport()
    {
        await using var gateway = await McpGateway.StartAsync("upstreams: {}");
        using (var client = gateway.CreateHttpClient())
        {
            using var ready = await GatewayFactory.WaitForStatusAsync(client, "/readyz", HttpStatusCode.OK, TimeSpan.FromSeconds(30));
        }

        var (exit, output, error) = await RunAsync("probe", gateway.BaseUrl + "/readyz");

        Assert.Equal(ProbeCommand.ExitReady, exit);
        Assert.Contains("\"status\":\"ready\"", output, StringComparison.Ordinal);
        Assert.Empty(error);
    }

    [Fact]
    public async Task Probe_NothingListening_ExitsOneSayingSo()
    {
        var url = $"http://127.0.0.1:{GatewayFactory.ClosedPort()}/readyz";

        var (exit, _, error) = await RunAsync("probe", url);

        Assert.Equal(ProbeCommand.ExitNotReady, exit);
        Assert.StartsWith($"probe: {url} did not answer:", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1/readyz")]
    [InlineData("not a url")]
    public async Task Probe_NotAnHttpUrl_ExitsTwo(string url)
    {
        var (exit, _, error) = await RunAsync("probe", url);

        Assert.Equal(ProbeCommand.ExitBadArguments, exit);
        Assert.Contains($"'{url}' is not an http or https URL", error, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await ProbeCommand.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }
}
