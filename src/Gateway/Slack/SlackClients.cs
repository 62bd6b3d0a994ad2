using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Notifiers.Slack;

namespace ApprovalEngine.Gateway.Slack;

/// <summary>Web API clients built from the configuration in effect, so a rotated token or new base URL applies at once.</summary>
internal sealed class SlackClients(LiveConfiguration config, IHttpClientFactory httpClients, TimeProvider time)
{
    private readonly SlackRateLimits _limits = new(time);

    public const string HttpClientName = "slack";

    /// <summary>Each Slack call gets this long; a notify task holds its approval's message lock no longer than its calls.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    public SlackConfig? Config => config.Current.Config.Slack;

    public HttpClient Http => httpClients.CreateClient(HttpClientName);

    public SlackWebApi Bot() => Api(c => c.BotToken);

    /// <summary>The app-level token's client, for <c>apps.connections.open</c>.</summary>
    public SlackWebApi App() => Api(c => c.AppToken ?? throw new InvalidOperationException("Socket Mode needs slack.appToken."));

    private SlackWebApi Api(Func<SlackConfig, string> token)
    {
        var slack = Config ?? throw new InvalidOperationException("The configuration has no slack section.");
        return new SlackWebApi(Http, slack.ApiBaseUrl, token(slack), _limits);
    }
}
