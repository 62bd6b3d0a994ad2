using System.Text.Json.Nodes;
using ApprovalEngine.Notifiers.Slack;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Slack;

public sealed class SlackWebApiTests : IAsyncLifetime
{
    private static readonly SlackMessage Card = new("text", [new JsonObject { ["type"] = "section", ["text"] = new JsonObject { ["type"] = "mrkdwn", ["text"] = "hi" } }]);

    private readonly ManualTimeProvider _time = new(DateTimeOffset.Parse("2026-03-01T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private FakeSlack _slack = null!;

    public async Task InitializeAsync() => _slack = await FakeSlack.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _slack.DisposeAsync();
    }

    [Fact]
    public async Task Call_Answered429_ReportsRetryAfterAndHoldsTheMethodBackUntilThen()
    {
        var api = new SlackWebApi(_http, _slack.ApiBaseUrl, FakeSlack.BotToken, new SlackRateLimits(_time));
        var posted = await api.PostMessageAsync("C1", Card, CancellationToken.None);
        _slack.ThrottleNext("chat.update", _ => true, retryAfterSeconds: 30);

        var throttled = await api.UpdateMessageAsync("C1", posted.String("ts")!, Card, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(10));
        var held = await api.UpdateMessageAsync("C1", posted.String("ts")!, Card, CancellationToken.None);
        var otherMethod = await api.PostMessageAsync("C1", Card, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(20));
        var later = await api.UpdateMessageAsync("C1", posted.String("ts")!, Card, CancellationToken.None);

        Assert.Equal((false, "ratelimited", true, TimeSpan.FromSeconds(30)), (throttled.Ok, throttled.Error, throttled.Transient, throttled.RetryAfter));
        Assert.Equal((false, TimeSpan.FromSeconds(20)), (held.Ok, held.RetryAfter));
        Assert.True(otherMethod.Ok);
        Assert.True(later.Ok);
        Assert.Equal([429, 200], _slack.CallsOf("chat.update").Select(c => c.Status));
    }

    [Fact]
    public async Task Call_SlackSaysNo_ErrorCodeAndNotTransient()
    {
        var api = new SlackWebApi(_http, _slack.ApiBaseUrl, FakeSlack.BotToken);
        var wrongToken = new SlackWebApi(_http, _slack.ApiBaseUrl, "xoxb-not-ours");

        var missing = await api.UpdateMessageAsync("C1", "1.2", Card, CancellationToken.None);
        var unauthorised = await wrongToken.PostMessageAsync("C1", Card, CancellationToken.None);

        Assert.Equal((false, "message_not_found", false), (missing.Ok, missing.Error, missing.Transient));
        Assert.Equal((false, "invalid_auth", false), (unauthorised.Ok, unauthorised.Error, unauthorised.Transient));
        Assert.Equal("Bearer xoxb-not-ours", _slack.CallsOf("chat.postMessage").Single().Authorization);
    }

    [Fact]
    public async Task Call_NobodyListening_TransientFailure()
    {
        var api = new SlackWebApi(_http, new Uri($"http://127.0.0.1:{GatewayFactory.ClosedPort()}/api/"), FakeSlack.BotToken);

        var result = await api.UserInfoAsync("U1", CancellationToken.None);

        Assert.False(result.Ok);
        Assert.True(result.Transient);
    }
}
