using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Security;
using Microsoft.Net.Http.Headers;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>Checks every MCP HTTP request must pass, and the JSON-RPC error answers for those that fail.</summary>
internal static class HttpGuards
{
    private static readonly string[] LoopbackHosts = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>
    /// DNS-rebinding defence: a browser page from another site can reach a loopback server only under a host
    /// name the attacker controls, and it always sends an Origin. Both must be ones this gateway is known by.
    /// </summary>
    public static string? CheckHostAndOrigin(HttpRequest request, ServerConfig server)
    {
        var host = request.Host;
        if (!host.HasValue || !HostAllowed(host, server))
        {
            return $"Forbidden: the Host header '{host.Value}' is not one this gateway answers to (server.allowedHosts).";
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && !OriginAllowed(origin, server))
        {
            return $"Forbidden: requests from origin '{origin}' are not allowed (server.allowedOrigins).";
        }

        return null;
    }

    public static bool AcceptsJsonAndEventStream(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        return accept.Any(a => Matches(a, "application", "json")) && accept.Any(a => Matches(a, "text", "event-stream"));
    }

    public static bool AcceptsEventStream(HttpRequest request) =>
        request.GetTypedHeaders().Accept.Any(a => Matches(a, "text", "event-stream"));

    public static bool IsJsonContent(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
        && type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);

    public static Task WriteErrorAsync(HttpContext context, int status, McpErrorCode code, string message, RequestId id = default, JsonElement? data = null) =>
        WriteErrorAsync(context, status, (int)code, message, id, data);

    public static Task WriteErrorAsync(HttpContext context, int status, int code, string message, RequestId id = default, JsonElement? data = null)
    {
        var error = new JsonRpcError
        {
            Id = id,
            Error = new JsonRpcErrorDetail { Code = code, Message = message, Data = data },
        };
        return Results.Json(error, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcError)), statusCode: status).ExecuteAsync(context);
    }

    /// <summary>
    /// 2026-07-28 gives some errors an HTTP status of their own (an unknown method is 404, a header or version the
    /// request cannot have is 400). The transport holds the headers back until its first message, so it can be set.
    /// </summary>
    public static ValueTask SetStatelessErrorStatusAsync(HttpContext context, JsonRpcMessage? first)
    {
        if (first is JsonRpcError { Error: { } error } && !context.Response.HasStarted)
        {
            context.Response.StatusCode = (McpErrorCode)error.Code switch
            {
                McpErrorCode.MethodNotFound => StatusCodes.Status404NotFound,
                McpErrorCode.HeaderMismatch or McpErrorCode.MissingRequiredClientCapability or McpErrorCode.UnsupportedProtocolVersion => StatusCodes.Status400BadRequest,
                _ => context.Response.StatusCode,
            };
        }

        return ValueTask.CompletedTask;
    }

    public static Task WriteUnauthorizedAsync(HttpContext context, bool keyPresented)
    {
        context.Response.Headers.WWWAuthenticate = Bearer.Challenge(keyPresented ? "The API key is not valid." : null);
        return WriteErrorAsync(context, StatusCodes.Status401Unauthorized, McpErrorCode.InvalidRequest,
            keyPresented
                ? "Unauthorized: the API key is not valid."
                : "Unauthorized: send the agent's API key as 'Authorization: Bearer ae_live_...'.");
    }

    /// <summary>The bearer token of the request, or null when there is none.</summary>
    public static string? BearerToken(HttpRequest request) => Bearer.TokenOf(request);

    private static bool Matches(MediaTypeHeaderValue value, string type, string subtype) =>
        value.Type.Equals(type, StringComparison.OrdinalIgnoreCase) && value.SubType.Equals(subtype, StringComparison.OrdinalIgnoreCase);

    private static bool HostAllowed(HostString host, ServerConfig server)
    {
        if (server.AllowedHosts.Count == 0)
        {
            return LoopbackHosts.Contains(host.Host, StringComparer.OrdinalIgnoreCase)
                || (server.PublicUrl is { } url && string.Equals(url.Host, host.Host, StringComparison.OrdinalIgnoreCase));
        }

        foreach (var allowed in server.AllowedHosts)
        {
            var entry = new HostString(allowed);
            var nameMatches = entry.Host.StartsWith("*.", StringComparison.Ordinal)
                ? host.Host.EndsWith(entry.Host[1..], StringComparison.OrdinalIgnoreCase)
                : string.Equals(entry.Host, host.Host, StringComparison.OrdinalIgnoreCase);
            if (nameMatches && (entry.Port is null || entry.Port == host.Port))
            {
                return true;
            }
        }

        return false;
    }

    private static bool OriginAllowed(string origin, ServerConfig server)
    {
        if (server.AllowedOrigins.Count > 0)
        {
            return server.AllowedOrigins.Contains(origin.TrimEnd('/'), StringComparer.OrdinalIgnoreCase);
        }

        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri))
        {
            return false;
        }

        return uri.IsLoopback
            || (server.PublicUrl is { } url && Uri.Compare(url, uri, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0);
    }
}
