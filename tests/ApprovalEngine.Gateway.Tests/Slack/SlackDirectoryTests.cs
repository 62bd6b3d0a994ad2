using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Slack;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Slack;

public sealed class SlackDirectoryTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new(DateTimeOffset.Parse("2026-03-01T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private FakeSlack _slack = null!;
    private SlackDirectory _directory = null!;

    public async Task InitializeAsync()
    {
        _slack = await FakeSlack.StartAsync();
        _slack.AddUser("U1", "alice@example.com");
        var config = new LiveConfiguration(new GatewayConfig
        {
            Slack = new SlackConfig { BotToken = FakeSlack.BotToken, SigningSecret = "s", ApiBaseUrl = _slack.ApiBaseUrl },
        });
        _directory = new SlackDirectory(new SlackClients(config, new OneClient(), _time), _time);
    }

    public async Task DisposeAsync() => await _slack.DisposeAsync();

    [Fact]
    public async Task EmailOf_AskedAgain_AnsweredFromTheCacheUntilItExpires()
    {
        var first = await _directory.EmailOfAsync(FakeSlack.TeamId, "U1", CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(14));
        var cached = await _directory.EmailOfAsync(FakeSlack.TeamId, "U1", CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(2));
        var refreshed = await _directory.EmailOfAsync(FakeSlack.TeamId, "U1", CancellationToken.None);

        Assert.Equal(("alice@example.com", "alice@example.com", "alice@example.com"), (first.Email, cached.Email, refreshed.Email));
        Assert.Equal(2, _slack.CallsOf("users.info").Count);
    }

    [Fact]
    public async Task EmailOf_UnknownUser_NoEmailRememberedBriefly()
    {
        var unknown = await _directory.EmailOfAsync(FakeSlack.TeamId, "U404", CancellationToken.None);
        _slack.AddUser("U404", "late@example.com");
        var stillUnknown = await _directory.EmailOfAsync(FakeSlack.TeamId, "U404", CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(2));
        var found = await _directory.EmailOfAsync(FakeSlack.TeamId, "U404", CancellationToken.None);

        Assert.Equal((null, null, null), (unknown.Email, stillUnknown.Email, unknown.Failure));
        Assert.Equal("late@example.com", found.Email);
    }

    [Fact]
    public async Task UserIdOf_ByEmail_IgnoresCaseAndCaches()
    {
        var id = await _directory.UserIdOfAsync("Alice@Example.com", CancellationToken.None);
        var again = await _directory.UserIdOfAsync("alice@example.com", CancellationToken.None);

        Assert.Equal(("U1", "U1"), (id.UserId, again.UserId));
        Assert.Single(_slack.CallsOf("users.lookupByEmail"));
    }

    private sealed class OneClient : IHttpClientFactory
    {
        private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(10) };

        public HttpClient CreateClient(string name) => _client;
    }
}
