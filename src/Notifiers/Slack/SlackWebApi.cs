using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Notifiers.Slack;

/// <summary>
/// The answer to one Web API call. Slack answers HTTP 200 with <c>{"ok": false, "error": "..."}</c> for most errors,
/// HTTP 429 with <c>Retry-After</c> when rate limited, and 5xx when it is unwell.
/// </summary>
public sealed record SlackResult
{
    public required bool Ok { get; init; }

    /// <summary>The response body when Slack sent JSON.</summary>
    public JsonElement Body { get; init; }

    /// <summary>Slack's error code (<c>channel_not_found</c>), <c>http_503</c>, or a transport failure.</summary>
    public string? Error { get; init; }

    /// <summary>Set for HTTP 429: how long Slack asked us to wait.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Trying again later may succeed (rate limit, 5xx, network); false for errors in what we sent.</summary>
    public bool Transient { get; init; }

    public string? String(string property) =>
        Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    internal static SlackResult Failed(string error, bool transient, TimeSpan? retryAfter = null) =>
        new() { Ok = false, Error = error, Transient = transient, RetryAfter = retryAfter };
}

/// <summary>
/// Slack's Web API over plain HTTP (no SDK): Bearer tokens in the header only, JSON bodies for writes and form bodies
/// for the methods that accept only forms. Nothing here retries: rate limits and failures go back to the caller, whose
/// durable task decides when to try again.
/// </summary>
/// <param name="http">A client whose timeout bounds each call.</param>
/// <param name="baseUrl">The API root, <c>https://slack.com/api/</c> in production; a local fake in tests.</param>
/// <param name="token">The bot token (<c>xoxb-</c>), or the app-level token (<c>xapp-</c>) for Socket Mode.</param>
/// <param name="limits">Rate limits learned from 429s, shared by the node's clients; none when null.</param>
public sealed class SlackWebApi(HttpClient http, Uri baseUrl, string token, SlackRateLimits? limits = null)
{
    private static readonly Encoding Utf8 = new UTF8Encoding(false);

    public Task<SlackResult> PostMessageAsync(string channel, SlackMessage message, CancellationToken cancellationToken) =>
        PostJsonAsync("chat.postMessage", new JsonObject
        {
            ["channel"] = channel,
            ["text"] = message.Text,
            ["blocks"] = message.Blocks.DeepClone(),
            ["unfurl_links"] = false,
            ["unfurl_media"] = false,
        }, cancellationToken);

    /// <summary>Replaces a message's text and blocks; <paramref name="channel"/> must be the id chat.postMessage returned.</summary>
    public Task<SlackResult> UpdateMessageAsync(string channel, string ts, SlackMessage message, CancellationToken cancellationToken) =>
        PostJsonAsync("chat.update", new JsonObject
        {
            ["channel"] = channel,
            ["ts"] = ts,
            ["text"] = message.Text,
            ["blocks"] = message.Blocks.DeepClone(),
        }, cancellationToken);

    /// <summary><c>users.info</c>: the profile email needs the <c>users:read.email</c> scope.</summary>
    public Task<SlackResult> UserInfoAsync(string userId, CancellationToken cancellationToken) =>
        PostFormAsync("users.info", [new("user", userId)], cancellationToken);

    public Task<SlackResult> LookupUserByEmailAsync(string email, CancellationToken cancellationToken) =>
        PostFormAsync("users.lookupByEmail", [new("email", email)], cancellationToken);

    /// <summary>Opens (or finds) the bot's direct-message conversation with a user; needs <c>im:write</c>.</summary>
    public Task<SlackResult> OpenDirectMessageAsync(string userId, CancellationToken cancellationToken) =>
        PostJsonAsync("conversations.open", new JsonObject { ["users"] = userId }, cancellationToken);

    /// <summary>Opens a modal; <paramref name="triggerId"/> comes from the click and expires within seconds.</summary>
    public Task<SlackResult> OpenViewAsync(string triggerId, JsonObject view, CancellationToken cancellationToken) =>
        PostJsonAsync("views.open", new JsonObject { ["trigger_id"] = triggerId, ["view"] = view.DeepClone() }, cancellationToken);

    /// <summary>Socket Mode: a fresh WebSocket URL (call with the app-level token).</summary>
    public Task<SlackResult> OpenConnectionAsync(CancellationToken cancellationToken) =>
        PostFormAsync("apps.connections.open", [], cancellationToken);

    /// <summary>
    /// Posts to a click's <c>response_url</c> (no token: the URL is the credential). Used for ephemeral answers to the
    /// person who clicked; everyone else's view changes through chat.update.
    /// </summary>
    public static async Task<SlackResult> RespondAsync(HttpClient http, Uri responseUrl, JsonObject body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, responseUrl) { Content = Json(body) };
        return await SendAsync(http, request, expectJson: false, cancellationToken);
    }

    private Task<SlackResult> PostJsonAsync(string method, JsonObject body, CancellationToken cancellationToken) =>
        CallAsync(method, Json(body), cancellationToken);

    private Task<SlackResult> PostFormAsync(string method, KeyValuePair<string, string>[] fields, CancellationToken cancellationToken) =>
        CallAsync(method, new FormUrlEncodedContent(fields), cancellationToken);

    private async Task<SlackResult> CallAsync(string method, HttpContent content, CancellationToken cancellationToken)
    {
        using var owned = content;
        if (limits?.Remaining(method) is { } wait)
        {
            return SlackResult.Failed("ratelimited", transient: true, wait);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl, method)) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var result = await SendAsync(http, request, expectJson: true, cancellationToken);
        if (result.RetryAfter is { } retryAfter)
        {
            limits?.Limited(method, retryAfter);
        }

        return result;
    }

    private static async Task<SlackResult> SendAsync(HttpClient http, HttpRequestMessage request, bool expectJson, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            return SlackResult.Failed($"request failed: {e.HttpRequestError}", transient: true);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return SlackResult.Failed("timed out", transient: true);
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                return SlackResult.Failed("ratelimited", transient: true, RetryAfter(response));
            }

            if (!response.IsSuccessStatusCode)
            {
                var code = (int)response.StatusCode;
                return SlackResult.Failed(string.Create(CultureInfo.InvariantCulture, $"http_{code}"), transient: code >= 500 || code == 408);
            }

            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!expectJson)
            {
                return new SlackResult { Ok = true };
            }

            JsonElement body;
            try
            {
                using var document = JsonDocument.Parse(text);
                body = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                return SlackResult.Failed("invalid_json_response", transient: true);
            }

            var ok = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("ok", out var okValue) && okValue.ValueKind == JsonValueKind.True;
            var error = ok ? null : body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : "unknown_error";
            return new SlackResult { Ok = ok, Body = body, Error = error, Transient = error is "internal_error" or "fatal_error" or "service_unavailable" or "request_timeout" };
        }
    }

    /// <summary>Seconds (Slack's form) or an HTTP date; one second when absent or unreadable, so a 429 never retries at once.</summary>
    private static TimeSpan RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        var after = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return after is { } value && value > TimeSpan.Zero ? value : TimeSpan.FromSeconds(1);
    }

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Utf8, "application/json");
}

/// <summary>What a Slack message shows: the notification fallback text and the Block Kit blocks.</summary>
public sealed record SlackMessage(string Text, JsonArray Blocks);
