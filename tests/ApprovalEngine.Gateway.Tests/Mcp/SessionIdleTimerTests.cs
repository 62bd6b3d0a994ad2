using System.Net;
using System.Net.Http.Headers;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Mcp;
using ApprovalEngine.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>
/// Idle sessions are closed by the gateway's own sweeper timer (nobody calls <see cref="AgentSessions.SweepAsync"/>
/// here), at an interval that follows <c>server.sessionIdleTimeout</c>, also when a reload changes it.
/// </summary>
public sealed class SessionIdleTimerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Timer_ShortIdleTimeout_EvictsIdleSessionWhichThenGets404()
    {
        // Swept every second (a tenth of the timeout, at least 1 s). 5 s, not less: the sessions must outlive their setup on a busy machine.
        await using var gateway = await McpGateway.StartAsync(McpHttpEndpointTests.Config("  sessionIdleTimeout: 5s"));
        using var client = gateway.CreateHttpClient();
        var sessions = gateway.Get<AgentSessions>();
        var streaming = await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));
        using var stream = await OpenGetStreamAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"), streaming);
        var idle = await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));

        await WaitUntilAsync(() => sessions.Find(idle) is null, "the idle session is evicted");
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Request(5, "tools/list"), session: idle, protocolVersion: "2025-11-25"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(-32001, RawMcp.ErrorCode(await RawMcp.MessageAsync(response)));

        // Idle for longer than the evicted one, but its open GET stream is a request in progress: it stays.
        Assert.NotNull(sessions.Find(streaming));
    }

    [Fact]
    public async Task Timer_ReloadShortensIdleTimeout_SweepIntervalFollows()
    {
        var clock = new ManualTimeProvider();
        await using var gateway = await McpGateway.StartAsync(
            McpHttpEndpointTests.Config("  sessionIdleTimeout: 10m"),
            services => services.AddSingleton<TimeProvider>(clock));
        using var client = gateway.CreateHttpClient();
        var sessions = gateway.Get<AgentSessions>();
        var idle = await RawMcp.StartSessionAsync(client, gateway.Url("tools"), gateway.KeyOf("alpha"));
        var live = gateway.Get<LiveConfiguration>();

        // Under a 10 m timeout the sweeper waits 30 s between sweeps; 3 s of clock would not reach its first one.
        live.Apply(live.Current.Config with { Server = live.Current.Config.Server with { SessionIdleTimeout = TimeSpan.FromSeconds(2) } });
        clock.Advance(TimeSpan.FromSeconds(3));

        await WaitUntilAsync(() => sessions.Find(idle) is null, "the idle session is evicted after the reload");
        using var response = await client.SendAsync(RawMcp.Post(gateway.Url("tools"), gateway.KeyOf("alpha"), RawMcp.Request(5, "tools/list"), session: idle, protocolVersion: "2025-11-25"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(-32001, RawMcp.ErrorCode(await RawMcp.MessageAsync(response)));
    }

    private static async Task<HttpResponseMessage> OpenGetStreamAsync(HttpClient client, string url, string key, string session)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("Accept", "text/event-stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        request.Headers.Add("Mcp-Session-Id", session);
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");

        // Once the headers arrive, the gateway holds the session's lease for the stream.
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        return response;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var patience = new CancellationTokenSource(Patience);
        while (!condition())
        {
            if (patience.IsCancellationRequested)
            {
                throw new TimeoutException($"Not within {Patience}: {what}.");
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }
}
