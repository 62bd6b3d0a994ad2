using System.Net;
using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Teams;

/// <summary>
/// <c>POST /api/messages</c>, the Bot Framework messaging endpoint. Every request's bearer token is validated before
/// anything in the activity is trusted (its <c>serviceUrl</c> above all). Without an app id (development mode, the
/// emulator convention) there is no token, so only loopback requests that did not pass through a proxy are accepted.
/// Installations (<c>conversationUpdate</c>) are stored as conversation references; card clicks are answered by
/// <see cref="TeamsInvokes"/>; other activities get an empty 200.
/// </summary>
internal sealed partial class TeamsMessagesEndpoint(
    LiveConfiguration config, TeamsClients clients, TeamsStore store, TeamsDirectory directory, TeamsInvokes invokes, ILogger<TeamsMessagesEndpoint> logger)
{
    public const string Path = "/api/messages";
    private const int MaxBodyBytes = 512 * 1024;

    public async Task HandleAsync(HttpContext context)
    {
        var ct = context.RequestAborted;
        if (config.Current.Config.Teams is not { } teams)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (teams.DevelopmentMode && !IsDirectLoopback(context))
        {
            LogRefusedRemote(context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
            await Status(context, StatusCodes.Status403Forbidden, "Teams is in development mode (no appId): only local requests are accepted.");
            return;
        }

        JsonElement activity;
        try
        {
            var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, ct);
            if (buffer.Length > MaxBodyBytes)
            {
                await Status(context, StatusCodes.Status413PayloadTooLarge, "The activity is too large.");
                return;
            }

            activity = JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
        }
        catch (JsonException)
        {
            await Status(context, StatusCodes.Status400BadRequest, "The body is not a JSON activity.");
            return;
        }

        var serviceUrl = Text(activity, "serviceUrl");
        var channelId = Text(activity, "channelId");
        if (!teams.DevelopmentMode)
        {
            var check = await clients.Validator(teams).ValidateAsync(context.Request.Headers.Authorization.ToString(), serviceUrl ?? string.Empty, channelId ?? string.Empty, ct);
            if (!check.Valid)
            {
                LogRejected(check.Problem ?? "invalid");
                await Status(context, check.KeysUnavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status401Unauthorized, "The request's token is not valid.");
                return;
            }
        }

        if (serviceUrl is null || !teams.AllowsServiceUrl(serviceUrl))
        {
            LogServiceUrlRefused(serviceUrl ?? "(none)");
            await Status(context, StatusCodes.Status403Forbidden, "The activity's serviceUrl is not allowed.");
            return;
        }

        switch (Text(activity, "type"))
        {
            case "conversationUpdate" or "installationUpdate":
                await RememberAsync(activity, serviceUrl, ct);
                context.Response.StatusCode = StatusCodes.Status200OK;
                break;
            case "invoke" when Text(activity, "name") == TeamsInvokes.InvokeName:
                var answer = await invokes.HandleAsync(activity, ct);
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/json; charset=utf-8";
                await context.Response.WriteAsync(answer.ToJsonString(), ct);
                break;
            default:
                context.Response.StatusCode = StatusCodes.Status200OK;
                break;
        }
    }

    /// <summary>Stores where the bot now lives, so approver groups can name the channel or the person.</summary>
    private async Task RememberAsync(JsonElement activity, string serviceUrl, CancellationToken ct)
    {
        if (Text(activity, "action") == "remove")
        {
            return;
        }

        var conversation = Child(activity, "conversation");
        var channelData = Child(activity, "channelData");
        var channel = Child(channelData, "channel");
        var team = Child(channelData, "team");
        var type = Text(conversation, "conversationType");
        var conversationId = Text(channel, "id") ?? Text(conversation, "id")?.Split(';')[0];
        if (conversationId is null)
        {
            return;
        }

        string? userId = null, aad = null, email = null;
        if (type == "personal")
        {
            userId = Text(Child(activity, "from"), "id");
            aad = Text(Child(activity, "from"), "aadObjectId");
            if (userId is not null)
            {
                (email, _) = await directory.EmailOfAsync(serviceUrl, conversationId, userId, aad, ct);
            }
        }

        await store.SaveConversationAsync(new TeamsConversation
        {
            ConversationId = conversationId,
            ServiceUrl = serviceUrl,
            TenantId = Text(Child(channelData, "tenant"), "id") ?? Text(conversation, "tenantId"),
            ConversationType = type ?? (Text(channel, "id") is null ? null : "channel"),
            TeamId = Text(team, "id"),
            TeamName = Text(team, "name"),
            ChannelId = Text(channel, "id"),
            ChannelName = Text(channel, "name"),
            UserId = userId,
            UserAadObjectId = aad,
            UserEmail = email,
        }, ct);
        LogInstalled(type ?? "unknown", Text(team, "name") ?? Text(channel, "name") ?? conversationId);
    }

    /// <summary>A request from this machine that no proxy forwarded (a local proxy would make anyone look local).</summary>
    internal static bool IsDirectLoopback(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address && IPAddress.IsLoopback(address)
        && !context.Request.Headers.ContainsKey("X-Forwarded-For") && !context.Request.Headers.ContainsKey("Forwarded");

    private static async Task Status(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new { error = message }), context.RequestAborted);
    }

    private static JsonElement Child(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : default;

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    [LoggerMessage(3820, LogLevel.Warning, "Rejected a request to /api/messages: {Problem}")]
    private partial void LogRejected(string problem);

    [LoggerMessage(3821, LogLevel.Warning, "Teams development mode refused a request from {Remote}: only direct loopback requests are accepted")]
    private partial void LogRefusedRemote(string remote);

    [LoggerMessage(3822, LogLevel.Warning, "Refused an activity whose serviceUrl {ServiceUrl} is not in teams.serviceUrls")]
    private partial void LogServiceUrlRefused(string serviceUrl);

    [LoggerMessage(3823, LogLevel.Information, "The Teams bot was installed in a {Type} conversation: {Name}")]
    private partial void LogInstalled(string type, string name);
}
