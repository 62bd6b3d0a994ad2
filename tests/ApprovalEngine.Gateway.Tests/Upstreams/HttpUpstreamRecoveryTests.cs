using System.Globalization;
using ApprovalEngine.Gateway.Tests.Mcp;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>An HTTP upstream that dies mid-call and comes back on the same port, as seen by an agent of the gateway.</summary>
public sealed class HttpUpstreamRecoveryTests
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Call_ServerDiesMidCallThenReturnsOnItsPort_CallsSucceedAgain()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        var first = await HttpPeer.StartFixtureAsync();
        HttpPeer? second = null;
        try
        {
            var port = first.Url.Port.ToString(CultureInfo.InvariantCulture);
            await using var gateway = await McpGateway.StartAsync($$"""
                upstreams:
                  api:
                    type: http
                    url: {{first.Url}}
                    timeout: 5m
                agents:
                  agent:
                    owner: owner@example.com
                    keys: ["{key:agent}"]
                bundles:
                  b:
                    upstreams: [api]
                    agents: [agent]
                policy:
                  default: allow
                """);
            await using var client = await AgentClients.ConnectAsync(gateway.Url("b"), gateway.KeyOf("agent"), "api__echo", ct);
            Assert.Equal("before", Text(await Echo(client, "before", ct)));

            // The fixture writes the file first and then waits: the call is running upstream when the server dies.
            var marker = Path.Combine(Path.GetTempPath(), $"ae-http-recovery-{Guid.NewGuid():N}.txt");
            var running = client.CallToolAsync("api__slow-write", new Dictionary<string, object?> { ["path"] = marker, ["ms"] = 120_000 }, cancellationToken: ct).AsTask();
            while (!File.Exists(marker))
            {
                await Task.Delay(20, ct);
            }

            File.Delete(marker);
            await first.DisposeAsync();

            var died = await running;
            Assert.True(died.IsError, Text(died));
            Assert.Contains("upstream 'api'", Text(died), StringComparison.Ordinal);
            var whileDown = await Echo(client, "down", ct);
            Assert.True(whileDown.IsError, Text(whileDown));

            second = await HttpPeer.StartFixtureAsync(new Dictionary<string, string> { ["FIXTURE_PORT"] = port });
            Assert.Equal(first.Url, second.Url);

            // The gateway reconnects on its own backoff (0.5 s, 1 s, 2 s, ...): the agent retries until a call goes through.
            var back = await Echo(client, "after", ct);
            while (back.IsError == true)
            {
                try
                {
                    await Task.Delay(200, ct);
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"calls still fail {TestTimeout.TotalSeconds:0} s into the test, the server back since: {Text(back)}");
                }

                back = await Echo(client, "after", ct);
            }

            Assert.Equal("after", Text(back));
            Assert.Equal("again", Text(await Echo(client, "again", ct)));
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }

    private static Task<CallToolResult> Echo(McpClient client, string text, CancellationToken cancellationToken) =>
        client.CallToolAsync("api__echo", new Dictionary<string, object?> { ["text"] = text }, cancellationToken: cancellationToken).AsTask();

    private static string Text(CallToolResult result) => string.Join("\n", result.Content.OfType<TextContentBlock>().Select(b => b.Text));
}
