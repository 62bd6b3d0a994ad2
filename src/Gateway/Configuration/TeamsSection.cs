namespace ApprovalEngine.Gateway.Configuration;

/// <summary>
/// The Teams bot: its Entra app registration and where Microsoft's endpoints are. Without <see cref="AppId"/> the bot
/// runs in development mode (the Bot Framework emulator convention): no token checks, loopback requests only.
/// </summary>
public sealed record TeamsConfig
{
    public static readonly Uri DefaultOpenIdMetadataUrl = new("https://login.botframework.com/v1/.well-known/openidconfiguration");
    public const string DefaultTokenUrl = "https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token";

    /// <summary>The bot's Microsoft App ID (the Entra application's client id); the audience of inbound tokens.</summary>
    public string? AppId { get; init; }

    /// <summary>The Entra app's client secret; required with an app id.</summary>
    public string? AppPassword { get; init; }

    /// <summary>The Entra tenant the app is registered in (single-tenant bots); <c>botframework.com</c> for legacy multi-tenant ones.</summary>
    public string? TenantId { get; init; }

    public Uri OpenIdMetadataUrl { get; init; } = DefaultOpenIdMetadataUrl;

    /// <summary>The token endpoint, with <c>{tenantId}</c> replaced.</summary>
    public string TokenUrlTemplate { get; init; } = DefaultTokenUrl;

    /// <summary>Service URL prefixes the bot will call back. Empty: any https URL a validated request carries.</summary>
    public IReadOnlyList<string> ServiceUrls { get; init; } = [];

    public bool DevelopmentMode => AppId is null;

    public Uri TokenUrl => new(TokenUrlTemplate.Replace("{tenantId}", Uri.EscapeDataString(TenantId ?? "botframework.com"), StringComparison.Ordinal));

    /// <summary>Whether the bot may send to this service URL (it came in a validated request, or from the emulator).</summary>
    public bool AllowsServiceUrl(string serviceUrl)
    {
        if (!Uri.TryCreate(serviceUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            return false;
        }

        if (ServiceUrls.Count > 0)
        {
            return ServiceUrls.Any(prefix => uri.AbsoluteUri.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));
        }

        return uri.Scheme == Uri.UriSchemeHttps || DevelopmentMode;
    }

    // The generated record ToString would print the secret.
    public override string ToString() =>
        $"TeamsConfig {{ AppId = {AppId ?? "(development mode)"}, AppPassword = {(AppPassword is null ? "(none)" : "***")}, TenantId = {TenantId}, OpenIdMetadataUrl = {OpenIdMetadataUrl} }}";
}

/// <summary>Where an approver group's Teams cards go.</summary>
public sealed record TeamsDelivery
{
    /// <summary>Channels by id (<c>19:…@thread.tacv2</c>) or as <c>Team name/Channel name</c>; the bot must be installed in the team.</summary>
    public IReadOnlyList<string> Channels { get; init; } = [];

    /// <summary>Approver emails that also get the card in their personal chat with the bot (they must have installed it).</summary>
    public IReadOnlyList<string> Users { get; init; } = [];
}

internal static class TeamsSection
{
    private static readonly string[] Fields = ["appId", "appPassword", "clientSecret", "tenantId", "openIdMetadataUrl", "tokenUrl", "serviceUrls"];
    private static readonly string[] DeliveryFields = ["channels", "users"];

    public static TeamsConfig? Read(MappingView root)
    {
        if (root.Child("teams", Fields) is not { } teams)
        {
            return null;
        }

        if (teams.Has("appPassword") && teams.Has("clientSecret"))
        {
            teams.Reader.Error(teams.KeyPosition("clientSecret"), teams.PathOf("clientSecret"), "is another name for appPassword; give only one of them");
        }

        var appId = teams.String("appId");
        var secretField = teams.Has("clientSecret") ? "clientSecret" : "appPassword";
        var password = teams.String(secretField);
        var tenant = teams.String("tenantId");
        if (appId is not null && password is null)
        {
            teams.Reader.Error(teams.KeyPosition("appId"), teams.PathOf("appPassword"), "is required with appId (the Entra app's client secret, as ${env:NAME} or ${file:path})");
        }

        if (appId is not null && tenant is null)
        {
            teams.Reader.Error(teams.KeyPosition("appId"), teams.PathOf("tenantId"), "is required with appId (the Entra tenant id; botframework.com for a legacy multi-tenant bot)");
        }

        var tokenUrl = teams.String("tokenUrl", check: value =>
            Checks.HttpUrl(value.Replace("{tenantId}", "tenant", StringComparison.Ordinal)) is { } problem ? problem + " (it may contain {tenantId})" : null);
        return new TeamsConfig
        {
            AppId = appId,
            AppPassword = password,
            TenantId = tenant,
            OpenIdMetadataUrl = teams.Url("openIdMetadataUrl") ?? TeamsConfig.DefaultOpenIdMetadataUrl,
            TokenUrlTemplate = tokenUrl ?? TeamsConfig.DefaultTokenUrl,
            ServiceUrls = teams.Strings("serviceUrls", Checks.HttpUrl),
        };
    }

    /// <summary>An approver group's <c>teams: {channels: [...], users: [...]}</c>; null when absent.</summary>
    public static TeamsDelivery? ReadDelivery(MappingView group, bool teamsConfigured)
    {
        if (group.Child("teams", DeliveryFields) is not { } view)
        {
            return null;
        }

        if (!teamsConfigured)
        {
            view.Reader.Error(view.Owner, view.Field, "Teams delivery needs the top-level teams section (appId, appPassword, tenantId)");
        }

        var delivery = new TeamsDelivery
        {
            Channels = view.Strings("channels", value => value.StartsWith("19:", StringComparison.Ordinal) || value.Contains('/', StringComparison.Ordinal)
                ? null
                : "must be a channel id (19:…@thread.tacv2) or \"Team name/Channel name\""),
            Users = view.Strings("users", Checks.Email),
        };
        if (delivery.Channels.Count == 0 && delivery.Users.Count == 0 && !view.Has("channels") && !view.Has("users"))
        {
            view.Reader.Error(view.Owner, view.Field, "needs channels, users, or both");
        }

        return delivery;
    }
}
