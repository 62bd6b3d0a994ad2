using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>How Slack reaches the gateway with clicks.</summary>
public enum SlackMode
{
    /// <summary>Slack POSTs to <c>/slack/interactions</c>, signed with the signing secret (needs public ingress).</summary>
    Http,

    /// <summary>The gateway opens a WebSocket to Slack with the app-level token (no public ingress).</summary>
    Socket,
}

/// <summary>The Slack app: its tokens and how clicks arrive. Secrets come from <c>${env:…}</c> or <c>${file:…}</c>.</summary>
public sealed record SlackConfig
{
    public static readonly Uri DefaultApiBaseUrl = new("https://slack.com/api/");

    /// <summary>The bot token (<c>xoxb-…</c>) that posts and updates cards and looks up users.</summary>
    public required string BotToken { get; init; }

    /// <summary>Verifies requests to <c>/slack/interactions</c>; required in <see cref="SlackMode.Http"/>.</summary>
    public string? SigningSecret { get; init; }

    /// <summary>The app-level token (<c>xapp-…</c>, scope <c>connections:write</c>); required in <see cref="SlackMode.Socket"/>.</summary>
    public string? AppToken { get; init; }

    public SlackMode Mode { get; init; } = SlackMode.Http;

    /// <summary>The Web API root, ending in a slash.</summary>
    public Uri ApiBaseUrl { get; init; } = DefaultApiBaseUrl;

    // The generated record ToString would print the secrets.
    public override string ToString() =>
        $"SlackConfig {{ BotToken = ***, SigningSecret = {(SigningSecret is null ? "(none)" : "***")}, AppToken = {(AppToken is null ? "(none)" : "***")}, Mode = {Mode}, ApiBaseUrl = {ApiBaseUrl} }}";
}

/// <summary>Where an approver group's cards go in Slack.</summary>
public sealed record SlackDelivery
{
    /// <summary>Channel ids (<c>C…</c>, <c>G…</c>); the bot must be a member, or have <c>chat:write.public</c> for public ones.</summary>
    public IReadOnlyList<string> Channels { get; init; } = [];

    /// <summary>Also send each member the card as a direct message (needs <c>users:read.email</c> and <c>im:write</c>).</summary>
    public bool Dm { get; init; }
}

internal static partial class SlackSection
{
    private static readonly string[] Fields = ["botToken", "signingSecret", "appToken", "mode", "apiBaseUrl"];
    private static readonly string[] DeliveryFields = ["channels", "dm"];

    public static SlackConfig? Read(MappingView root)
    {
        if (root.Child("slack", Fields) is not { } slack)
        {
            return null;
        }

        var mode = slack.Choice("mode", required: false, "http", "socket") == "socket" ? SlackMode.Socket : SlackMode.Http;
        var config = new SlackConfig
        {
            BotToken = Secret(slack, "botToken", required: true, "xoxb-", "a bot token (xoxb-…)") ?? string.Empty,
            SigningSecret = Secret(slack, "signingSecret", required: mode == SlackMode.Http, prefix: null, "the app's signing secret"),
            AppToken = Secret(slack, "appToken", required: mode == SlackMode.Socket, "xapp-", "an app-level token (xapp-…) with connections:write"),
            Mode = mode,
            ApiBaseUrl = slack.Url("apiBaseUrl") is { } url ? WithTrailingSlash(url) : SlackConfig.DefaultApiBaseUrl,
        };
        return config;
    }

    /// <summary>An approver group's <c>slack: {channels: [...], dm: true}</c>; null when absent.</summary>
    public static SlackDelivery? ReadDelivery(MappingView group, bool slackConfigured)
    {
        if (group.Child("slack", DeliveryFields) is not { } view)
        {
            return null;
        }

        if (!slackConfigured)
        {
            view.Reader.Error(view.Owner, view.Field, "Slack delivery needs the top-level slack section (botToken, and signingSecret or appToken)");
        }

        var delivery = new SlackDelivery
        {
            Channels = view.Strings("channels", value => ChannelId().IsMatch(value)
                ? null
                : "must be a channel id such as C0123456789 (in Slack: channel details, at the bottom); names cannot be updated later"),
            Dm = view.Choice("dm", required: false, "true", "false") == "true",
        };
        if (delivery.Channels.Count == 0 && !delivery.Dm && !view.Has("channels"))
        {
            view.Reader.Error(view.Owner, view.Field, "needs channels, dm: true, or both");
        }

        return delivery;
    }

    /// <summary>A secret: checked without ever echoing it (a raw token may have been pasted instead of a reference).</summary>
    private static string? Secret(MappingView slack, string name, bool required, string? prefix, string what)
    {
        var value = slack.String(name, required);
        if (value is null)
        {
            return null;
        }

        if (value.Length == 0 || value.Any(char.IsWhiteSpace) || (prefix is not null && !value.StartsWith(prefix, StringComparison.Ordinal)))
        {
            slack.Reader.Error(slack.KeyPosition(name), slack.PathOf(name), $"must be {what}; the value is not shown");
            return null;
        }

        return value;
    }

    private static Uri WithTrailingSlash(Uri url) => url.AbsoluteUri.EndsWith('/') ? url : new Uri(url.AbsoluteUri + "/");

    [GeneratedRegex("^[A-Z0-9]{2,}$")]
    private static partial Regex ChannelId();
}
