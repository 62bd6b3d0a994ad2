using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>The token endpoint refused or failed; the message names the status and OAuth error code only.</summary>
public sealed class OAuthTokenException(string message) : Exception(message);

/// <summary>
/// Bearer tokens from an OAuth 2.0 client-credentials grant (RFC 6749 §4.4) for one HTTP upstream, shared by all of
/// its connections. A token is reused until shortly before its <c>expires_in</c>; one fetch runs at a time, and
/// callers that saw the same token rejected get the one fetched for the first of them.
/// </summary>
/// <remarks>The client authenticates with HTTP Basic (client_secret_basic), which RFC 6749 §2.3.1 requires every
/// authorization server to support.</remarks>
internal sealed class ClientCredentialsTokenSource : IDisposable
{
    // Refresh this long before expiry (at most a tenth of the lifetime), so a token does not expire in flight.
    private static readonly TimeSpan ExpiryMargin = TimeSpan.FromSeconds(30);

    private readonly string upstream;
    private readonly OAuthClientConfig config;
    private readonly HttpClient http;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly SemaphoreSlim fetchGate = new(1, 1);
    private CachedToken? cached;

    public ClientCredentialsTokenSource(string upstream, OAuthClientConfig config, TimeSpan timeout, TimeProvider time, ILogger logger)
    {
        this.upstream = upstream;
        this.config = config;
        this.time = time;
        this.logger = logger;
        http = new HttpClient { Timeout = timeout };
    }

    /// <summary>A valid token: the cached one, or a new one when none is cached, it is due, or it is <paramref name="rejected"/>.</summary>
    public async Task<string> GetTokenAsync(string? rejected, CancellationToken cancellationToken)
    {
        if (Usable(rejected) is { } cached)
        {
            return cached;
        }

        await fetchGate.WaitAsync(cancellationToken);
        try
        {
            // Another caller may have fetched while this one waited.
            if (Usable(rejected) is { } fetched)
            {
                return fetched;
            }

            return await FetchAsync(cancellationToken);
        }
        finally
        {
            fetchGate.Release();
        }
    }

    public void Dispose()
    {
        http.Dispose();
        fetchGate.Dispose();
    }

    private string? Usable(string? rejected)
    {
        var current = Volatile.Read(ref cached);
        return current is not null && current.Value != rejected && time.GetUtcNow() < current.RefreshAt ? current.Value : null;
    }

    private async Task<string> FetchAsync(CancellationToken cancellationToken)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        if (!string.IsNullOrEmpty(config.Scope))
        {
            form["scope"] = config.Scope;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, config.TokenUrl) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        // RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined and base64-encoded.
        var basic = $"{WebUtility.UrlEncode(config.ClientId)}:{WebUtility.UrlEncode(config.ClientSecret)}";
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(basic)));

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new OAuthTokenException($"the OAuth token endpoint cannot be reached ({e.HttpRequestError})");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OAuthTokenException("the OAuth token endpoint did not answer in time");
        }

        using (response)
        {
            using var body = await ReadJsonAsync(response, cancellationToken);
            var root = body?.RootElement;
            if (!response.IsSuccessStatusCode)
            {
                var code = String(root, "error") is { } error && IsErrorCode(error) ? $" ({error})" : string.Empty;
                throw new OAuthTokenException($"the OAuth token endpoint answered HTTP {(int)response.StatusCode}{code}");
            }

            var accessToken = String(root, "access_token");
            if (string.IsNullOrEmpty(accessToken))
            {
                throw new OAuthTokenException("the OAuth token endpoint answered without an access_token");
            }

            var type = String(root, "token_type");
            if (type is not null && !type.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            {
                throw new OAuthTokenException("the OAuth token endpoint issued a token that is not a bearer token");
            }

            var expiresIn = Seconds(root, "expires_in");
            var refreshAt = expiresIn is { } seconds
                ? time.GetUtcNow() + TimeSpan.FromSeconds(seconds) - Min(ExpiryMargin, TimeSpan.FromSeconds(seconds / 10.0))
                : DateTimeOffset.MaxValue;
            Volatile.Write(ref cached, new CachedToken(accessToken, refreshAt));
            logger.TokenFetched(upstream, expiresIn);
            return accessToken;
        }
    }

    private sealed record CachedToken(string Value, DateTimeOffset RefreshAt)
    {
        // The generated ToString would print the token.
        public override string ToString() => $"CachedToken {{ RefreshAt = {RefreshAt} }}";
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    // OAuth error codes are short ASCII tokens (RFC 6749 §5.2); anything else is not echoed into messages.
    private static bool IsErrorCode(string value) => value.Length <= 64 && value.All(c => c is (>= 'a' and <= 'z') or '_');

    private static async Task<JsonDocument?> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        try
        {
            return JsonDocument.Parse(bytes);
        }
        catch (JsonException)
        {
            // Not JSON (an HTML error page, say): treated as a body without the fields we need.
            return null;
        }
    }

    private static string? String(JsonElement? root, string property) =>
        root is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static long? Seconds(JsonElement? root, string property)
    {
        if (root is not { ValueKind: JsonValueKind.Object } r || !r.TryGetProperty(property, out var value))
        {
            return null;
        }

        // Some servers send the number as a string.
        return value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetInt64(out var n) && n > 0 => n,
            JsonValueKind.String when long.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 => n,
            _ => null,
        };
    }
}

/// <summary>
/// Puts the upstream's client-credentials token on every request that carries no Authorization header of its own
/// (an agent's own credentials win), and on a 401 fetches a new token and retries once: tokens get revoked or
/// expire early. A second 401 is the upstream's answer.
/// </summary>
internal sealed class ClientCredentialsHandler(string upstream, ClientCredentialsTokenSource tokens, ILogger logger) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Headers.Authorization is not null)
        {
            return await base.SendAsync(request, cancellationToken);
        }

        var token = await tokens.GetTokenAsync(rejected: null, cancellationToken);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
        {
            return response;
        }

        logger.TokenRejected(upstream);
        response.Dispose();
        token = await tokens.GetTokenAsync(rejected: token, cancellationToken);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // The SDK's bodies (JsonContent, ByteArrayContent) serialize again on a second send.
        return await base.SendAsync(request, cancellationToken);
    }
}
