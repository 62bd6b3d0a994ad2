using System.Collections.Concurrent;
using ApprovalEngine.Testing;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Peers;

/// <summary>The fixture server as the gateway will meet it: through the C# SDK's client.</summary>
public sealed class CSharpSdkClientTests
{
    [Theory]
    [InlineData(null)] // the client's default: a server/discover probe first (the fixture answers 400), then initialize
    [InlineData("2025-11-25")]
    public async Task CallToolAsync_FixtureServer_ReturnsResultAndEveryProgressNotification(string? protocolVersion)
    {
        await using var server = await NodePeers.StartFixtureServerAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var transport = new HttpClientTransport(new HttpClientTransportOptions { Endpoint = server.Url, TransportMode = HttpTransportMode.StreamableHttp });
        await using var client = await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = protocolVersion }, cancellationToken: timeout.Token);
        // The client handles incoming messages concurrently, so the session-wide handler sees every notification but
        // not necessarily in the order sent (seen under load: 2, 1, 3). The per-call IProgress is passed only so that
        // the request carries a progress token; it can miss any of them (seen in CI: all three), because the
        // notifications race the response and once the call has completed its progress handler is gone.
        var sessionProgress = new ConcurrentQueue<double>();
        await using var registration = client.RegisterNotificationHandler(NotificationMethods.ProgressNotification, (notification, _) =>
        {
            sessionProgress.Enqueue(notification.Params!.AsObject()["progress"]!.GetValue<double>());
            return ValueTask.CompletedTask;
        });
        var callProgress = new ConcurrentQueue<float>();

        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        var result = await client.CallToolAsync(
            "slow", new Dictionary<string, object?> { ["ms"] = 150, ["steps"] = 3 }, new QueueProgress(callProgress), cancellationToken: timeout.Token);
        while (sessionProgress.Count < 3 && !timeout.IsCancellationRequested)
        {
            await Task.Delay(20, CancellationToken.None);
        }

        Assert.Equal("2025-11-25", client.NegotiatedProtocolVersion);
        Assert.Contains(tools, t => t.Name == "echo_headers");
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("slow finished 3 steps in 150 ms", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        Assert.Equal([1d, 2d, 3d], sessionProgress.Order());
    }

    private sealed class QueueProgress(ConcurrentQueue<float> values) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value) => values.Enqueue(value.Progress);
    }
}
