using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Notifiers.Teams;

/// <summary>The bot's Entra app: client-credentials grant at a tenant-specific token URL.</summary>
public sealed record BotCredentials(string AppId, string AppPassword, Uri TokenUrl)
{
    public const string Scope = "https://api.botframework.com/.default";

    // The generated record ToString would print the secret.
    public override string ToString() => $"BotCredentials {{ AppId = {AppId}, AppPassword = ***, TokenUrl = {TokenUrl} }}";
}

/// <summary>An answer from the Bot Connector (or its token endpoint); status 0 when the call never got an answer.</summary>
public sealed record ConnectorResult(int Status, JsonElement Body, string? Error = null)
{
    public bool Ok => Status is >= 200 and < 300;

    /// <summary>Worth retrying later: throttling (429), a conflicting concurrent write (412), a gateway failure, no answer.</summary>
    public bool Transient => Status is 0 or 412 or 429 or 500 or 502 or 503 or 504;

    public string? String(string name) =>
        Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>
/// The Bot Connector REST API spoken directly: send and update activities, read a conversation member. Every call
/// carries an Entra token for the bot, fetched with the client-credentials grant and cached until shortly before it
/// expires. Without credentials (development mode, the local emulator convention) calls carry no token.
/// </summary>
public sealed class BotConnectorClient(HttpClient http, BotCredentials? credentials, TimeProvider time)
{
    private static readonly TimeSpan ExpiryMargin = TimeSpan.FromMinutes(5);
    private readonly SemaphoreSlim _tokenGate = new(1, 1);
    private (string Token, DateTimeOffset Until)? _token;
    private int _tokenFetches;

    public int TokenFetches => Volatile.Read(ref _tokenFetches);

    /// <summary><c>POST /v3/conversations/{id}/activities</c>: a new message; the answer carries its <c>id</c>.</summary>
    public Task<ConnectorResult> SendAsync(string serviceUrl, string conversationId, JsonObject activity, CancellationToken ct) =>
        CallAsync(HttpMethod.Post, Url(serviceUrl, $"v3/conversations/{Escape(conversationId)}/activities"), activity, ct);

    /// <summary><c>PUT /v3/conversations/{id}/activities/{activityId}</c>: replaces the message for everyone.</summary>
    public Task<ConnectorResult> UpdateAsync(string serviceUrl, string conversationId, string activityId, JsonObject activity, CancellationToken ct) =>
        CallAsync(HttpMethod.Put, Url(serviceUrl, $"v3/conversations/{Escape(conversationId)}/activities/{Escape(activityId)}"), activity, ct);

    /// <summary><c>GET /v3/conversations/{id}/members/{userId}</c>: <c>email</c>, <c>userPrincipalName</c>, <c>aadObjectId</c>.</summary>
    public Task<ConnectorResult> GetMemberAsync(string serviceUrl, string conversationId, string userId, CancellationToken ct) =>
        CallAsync(HttpMethod.Get, Url(serviceUrl, $"v3/conversations/{Escape(conversationId)}/members/{Escape(userId)}"), null, ct);

    /// <summary><c>GET /v3/conversations/{id}/members</c>: every member of the conversation (a team's, for a channel).</summary>
    public Task<ConnectorResult> GetMembersAsync(string serviceUrl, string conversationId, CancellationToken ct) =>
        CallAsync(HttpMethod.Get, Url(serviceUrl, $"v3/conversations/{Escape(conversationId)}/members"), null, ct);

    private async Task<ConnectorResult> CallAsync(HttpMethod method, Uri url, JsonObject? body, CancellationToken ct)
    {
        string? token = null;
        if (credentials is not null)
        {
            var (value, failure) = await TokenAsync(ct);
            if (failure is not null)
            {
                return failure;
            }

            token = value;
        }

        using var request = new HttpRequestMessage(method, url);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        var result = await SendRawAsync(request, ct);
        if (result.Status == (int)HttpStatusCode.Unauthorized)
        {
            // A token revoked or rotated early: the next call fetches a new one.
            _token = null;
        }

        return result;
    }

    private async Task<(string? Token, ConnectorResult? Failure)> TokenAsync(CancellationToken ct)
    {
        if (_token is { } cached && cached.Until > time.GetUtcNow())
        {
            return (cached.Token, null);
        }

        await _tokenGate.WaitAsync(ct);
        try
        {
            if (_token is { } fetched && fetched.Until > time.GetUtcNow())
            {
                return (fetched.Token, null);
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, credentials!.TokenUrl)
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["grant_type"] = "client_credentials",
                    ["client_id"] = credentials.AppId,
                    ["client_secret"] = credentials.AppPassword,
                    ["scope"] = BotCredentials.Scope,
                }),
            };
            var result = await SendRawAsync(request, ct);
            Interlocked.Increment(ref _tokenFetches);
            var token = result.String("access_token");
            if (!result.Ok || token is null)
            {
                // The token endpoint's error text may echo the request but never the secret; keep only its code.
                return (null, result with { Error = $"the token endpoint answered {result.Status}: {result.String("error") ?? "no access_token"}" });
            }

            var lifetime = result.Body.TryGetProperty("expires_in", out var e) && e.TryGetInt32(out var seconds) ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromMinutes(30);
            _token = (token, time.GetUtcNow() + lifetime - (lifetime > ExpiryMargin * 2 ? ExpiryMargin : TimeSpan.Zero));
            return (token, null);
        }
        finally
        {
            _tokenGate.Release();
        }
    }

    private async Task<ConnectorResult> SendRawAsync(HttpRequestMessage request, CancellationToken ct)
    {
        try
        {
            using var response = await http.SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            var body = Parse(text);
            var status = (int)response.StatusCode;
            return response.IsSuccessStatusCode
                ? new ConnectorResult(status, body)
                : new ConnectorResult(status, body, $"{status} {ErrorCode(body) ?? response.ReasonPhrase}");
        }
        catch (HttpRequestException e)
        {
            return new ConnectorResult(0, default, e.Message);
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ConnectorResult(0, default, "timed out");
        }
    }

    private static JsonElement Parse(string text)
    {
        if (text.Length == 0)
        {
            return default;
        }

        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return default;
        }
    }

    /// <summary>The Bot Connector's <c>{"error":{"code":"…"}}</c>.</summary>
    private static string? ErrorCode(JsonElement body) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var error)
            ? error.ValueKind == JsonValueKind.Object && error.TryGetProperty("code", out var code) ? code.GetString() : error.ToString()
            : null;

    private static Uri Url(string serviceUrl, string path) => new(serviceUrl.TrimEnd('/') + "/" + path, UriKind.Absolute);

    private static string Escape(string segment) => Uri.EscapeDataString(segment);
}
