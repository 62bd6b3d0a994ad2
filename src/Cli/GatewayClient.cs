using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Cli;

/// <summary>
/// The gateway's HTTP API with one person's token: one <see cref="HttpClient"/>, bounded waits, and every failure
/// turned into a <see cref="CliFailure"/> with the exit code for it and a message naming the URL.
/// Redirects are not followed: HttpClient drops the Authorization header on a redirect, so following one would
/// only turn a wrong URL into a confusing 401.
/// </summary>
internal sealed class GatewayClient : IDisposable
{
    /// <summary>How long a request may take until its response headers arrive; a streamed body may take longer.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    private readonly HttpClient http;

    public GatewayClient(Uri baseUrl, string token)
    {
        BaseUrl = baseUrl;
        http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = ConnectTimeout })
        {
            BaseAddress = baseUrl,
            Timeout = RequestTimeout,
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("approvals-cli", typeof(GatewayClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
    }

    public Uri BaseUrl { get; }

    /// <summary>Parses a gateway URL given by a person: absolute http(s), with a trailing slash so paths resolve beneath it.</summary>
    public static Uri ParseUrl(string text, string source)
    {
        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(url.Query) || !string.IsNullOrEmpty(url.UserInfo))
        {
            throw new CliFailure(ExitCodes.Usage, $"{source} '{text}' is not a gateway URL; give its base address, e.g. https://gateway.example.com");
        }

        return url.AbsolutePath.EndsWith('/') ? url : new Uri(url + "/");
    }

    public async Task<JsonNode> GetAsync(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        return await SendForJsonAsync(request, cancellationToken);
    }

    public async Task<JsonNode> PostAsync(string path, JsonNode? body, CancellationToken cancellationToken, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await SendForJsonAsync(request, cancellationToken);
    }

    /// <summary>A GET whose body the caller streams; the headers arrived and the status is a success.</summary>
    public async Task<HttpResponseMessage> GetStreamAsync(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        var response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        return response;
    }

    /// <summary>Says what went wrong while a streamed body was being read.</summary>
    public CliFailure Interrupted(Exception e) => new(ExitCodes.Unreachable, $"The connection to the gateway at {BaseUrl} broke off: {e.Message}", e);

    public void Dispose() => http.Dispose();

    private async Task<JsonNode> SendForJsonAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            return JsonNode.Parse(text) ?? throw new JsonException("the body is null");
        }
        catch (JsonException e)
        {
            throw new CliFailure(ExitCodes.Unreachable,
                $"{request.Method} {request.RequestUri} answered {(int)response.StatusCode} with {response.Content.Headers.ContentType?.MediaType ?? "no content type"}, not JSON: is {BaseUrl} the gateway?", e);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, completion, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new CliFailure(ExitCodes.Unreachable, $"Cannot reach the gateway at {BaseUrl}: {Describe(e)}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliFailure(ExitCodes.Unreachable, $"The gateway at {BaseUrl} did not answer within {RequestTimeout.TotalSeconds:0} s.", e);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400)
            {
                throw new CliFailure(ExitCodes.Unreachable,
                    $"The gateway at {BaseUrl} redirects {request.RequestUri} to {response.Headers.Location}; use the URL it redirects to.");
            }

            throw new CliFailure(ExitCodes.ForStatus(status), await ProblemAsync(request, response, cancellationToken));
        }
    }

    /// <summary>"title: detail (HTTP 404)" from a problem+json body, or the status and the start of whatever came instead.</summary>
    private static async Task<string> ProblemAsync(HttpRequestMessage request, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            if (JsonNode.Parse(text) is JsonObject problem && (problem["title"] is not null || problem["detail"] is not null))
            {
                var title = problem["title"]?.ToString() ?? response.ReasonPhrase ?? "Error";
                return problem["detail"]?.ToString() is { Length: > 0 } detail ? $"{title}: {detail} (HTTP {status})" : $"{title} (HTTP {status})";
            }
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's error page, an empty body): described by its status below.
        }

        var excerpt = text.Length > 200 ? text[..200] + "…" : text;
        return $"{request.Method} {request.RequestUri?.AbsolutePath} answered HTTP {status} {response.ReasonPhrase}{(excerpt.Length > 0 ? $": {excerpt}" : "")}";
    }

    private static string Describe(HttpRequestException e) => e.InnerException switch
    {
        SocketException socket => socket.Message,
        IOException io => io.Message,
        _ => e.HttpRequestError == HttpRequestError.NameResolutionError ? $"the host name does not resolve ({e.Message})" : e.Message,
    };
}
