using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Notifiers.OpenId;
using ApprovalEngine.Notifiers.Teams;

namespace ApprovalEngine.Gateway.Teams;

/// <summary>
/// The Bot Connector client and the inbound token validator for the current <c>teams</c> configuration. Both are kept
/// while the configuration is unchanged, so the outbound token and the signing keys stay cached across requests.
/// </summary>
internal sealed class TeamsClients(IHttpClientFactory httpClients, LiveConfiguration config, OpenIdKeyOptions keyOptions, TimeProvider time)
{
    public const string HttpClientName = "teams";
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private (TeamsConfig Config, BotConnectorClient Client)? _connector;
    private readonly CurrentOpenIdKeys _keys = new(() => httpClients.CreateClient(HttpClientName), keyOptions, time);

    public TeamsConfig? Config => config.Current.Config.Teams;

    public BotConnectorClient Connector()
    {
        var teams = Config ?? throw new InvalidOperationException("Teams is not configured.");
        lock (_gate)
        {
            if (_connector is { } cached && cached.Config == teams)
            {
                return cached.Client;
            }

            var credentials = teams.AppId is { } appId ? new BotCredentials(appId, teams.AppPassword ?? string.Empty, teams.TokenUrl) : null;
            var client = new BotConnectorClient(httpClients.CreateClient(HttpClientName), credentials, time);
            _connector = (teams, client);
            return client;
        }
    }

    /// <summary>The signing keys behind the configured metadata URL (shared by every validator of that URL).</summary>
    public OpenIdKeys Keys(TeamsConfig teams) => _keys.For(teams.OpenIdMetadataUrl);

    public BotFrameworkTokenValidator Validator(TeamsConfig teams) => new(Keys(teams), teams.AppId!);
}
