using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ApprovalEngine.Gateway.Configuration;
using Microsoft.AspNetCore.Http.Features;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// MCP Streamable HTTP for agents: sessions for 2025-11-25 clients (<c>initialize</c>, <c>Mcp-Session-Id</c>,
/// the GET stream, DELETE) and a server per request for 2026-07-28 clients. Every request is checked for Host
/// and Origin, authenticated by agent key, and authorised for the bundle before the MCP layer sees it.
/// </summary>
internal sealed partial class McpHttpHandler(
    LiveConfiguration config,
    AgentSessions sessions,
    ProxyViews views,
    ProxyServer proxy,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers,
    TimeProvider time,
    ILogger<McpHttpHandler> logger)
{
    public const string SessionHeader = "Mcp-Session-Id";
    public const string ProtocolVersionHeader = "MCP-Protocol-Version";

    public async Task PostAsync(HttpContext context, string? bundle)
    {
        // Draining: requests already running finish, new ones go elsewhere (a load balancer retries them on another node).
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            context.Response.Headers.RetryAfter = "1";
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable, McpErrorCode.InternalError,
                "Service Unavailable: this gateway node is shutting down; send the request again (another node will take it).");
            return;
        }

        if (await AdmitAsync(context, bundle) is not { } scope)
        {
            return;
        }

        if (!HttpGuards.AcceptsJsonAndEventStream(context.Request))
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status406NotAcceptable, McpErrorCode.InvalidRequest,
                "Not Acceptable: the Accept header must list both application/json and text/event-stream.");
            return;
        }

        if (!HttpGuards.IsJsonContent(context.Request))
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status415UnsupportedMediaType, McpErrorCode.InvalidRequest,
                $"Unsupported Media Type: the body must be application/json (got '{context.Request.ContentType}').");
            return;
        }

        if (await ReadMessageAsync(context) is not { } message)
        {
            return;
        }

        var requestId = message is JsonRpcRequest request ? request.Id : default;
        var version = context.Request.Headers[ProtocolVersionHeader].ToString();
        if (version.Length > 0 && !ProtocolVersions.IsSupported(version))
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status400BadRequest, McpErrorCode.UnsupportedProtocolVersion,
                $"Bad Request: MCP-Protocol-Version '{version}' is not supported; supported: {string.Join(", ", ProtocolVersions.Supported)}.",
                requestId, ProtocolVersions.Unsupported(version));
            return;
        }

        if (version.Length > 0)
        {
            message.Context ??= new JsonRpcMessageContext();
            message.Context.ProtocolVersion = version;
        }

        if (ProtocolVersions.IsStateless(version))
        {
            await ServeStatelessAsync(context, scope, message);
            return;
        }

        AgentSession? session;
        var sessionId = context.Request.Headers[SessionHeader].ToString();
        if (sessionId.Length == 0)
        {
            if (message is not JsonRpcRequest { Method: RequestMethods.Initialize })
            {
                await HttpGuards.WriteErrorAsync(context, StatusCodes.Status400BadRequest, McpErrorCode.InvalidRequest,
                    "Bad Request: send initialize first, then the Mcp-Session-Id it returns with every request (or use protocol version 2026-07-28, which needs no session).",
                    requestId);
                return;
            }

            session = StartSession(scope);
            LogSessionStarted(scope.AgentId, scope.Bundle ?? "*");
        }
        else if ((session = await FindSessionAsync(context, scope, sessionId, requestId)) is null)
        {
            return;
        }

        context.Response.Headers[SessionHeader] = session.Id;
        using var lease = session.Acquire();
        try
        {
            await RespondAsync(context, session.Transport, message);
        }
        finally
        {
            // A dropped connection is a cancellation too: the session's server would otherwise run the request on (for a
            // gated call: keep waiting for an approval nobody will receive). Cancel it as notifications/cancelled would.
            if (message is JsonRpcRequest abandoned && context.RequestAborted.IsCancellationRequested)
            {
                await CancelAbandonedAsync(session, abandoned);
            }
        }
    }

    private static async Task CancelAbandonedAsync(AgentSession session, JsonRpcRequest request)
    {
        var cancelled = new JsonRpcNotification
        {
            Method = NotificationMethods.CancelledNotification,
            Params = JsonSerializer.SerializeToNode(
                new CancelledNotificationParams { RequestId = request.Id, Reason = "the agent's connection closed" },
                McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CancelledNotificationParams))),
        };
        try
        {
            await session.Transport.HandlePostRequestAsync(cancelled, Stream.Null, CancellationToken.None);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            // The session closed meanwhile, and its requests with it.
        }
    }

    public async Task GetAsync(HttpContext context, string? bundle)
    {
        if (await AdmitAsync(context, bundle) is not { } scope)
        {
            return;
        }

        if (ProtocolVersions.IsStateless(context.Request.Headers[ProtocolVersionHeader].ToString()))
        {
            context.Response.Headers.Allow = HttpMethods.Post;
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status405MethodNotAllowed, McpErrorCode.InvalidRequest,
                "Method Not Allowed: protocol version 2026-07-28 has no GET stream; use POST.");
            return;
        }

        if (!HttpGuards.AcceptsEventStream(context.Request))
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status406NotAcceptable, McpErrorCode.InvalidRequest,
                "Not Acceptable: the Accept header must list text/event-stream.");
            return;
        }

        if (await FindSessionAsync(context, scope, context.Request.Headers[SessionHeader].ToString(), default) is not { } session)
        {
            return;
        }

        if (!session.TryOpenGetStream())
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status409Conflict, McpErrorCode.InvalidRequest,
                "Conflict: this session already has a GET stream open.");
            return;
        }

        // Ends when the agent disconnects, the session closes, or the node stops: an open stream must not hold up shutdown.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, session.Closed, lifetime.ApplicationStopping);
        context.Response.Headers[SessionHeader] = session.Id;
        using var lease = session.Acquire();
        StartEventStream(context);
        try
        {
            await session.Transport.HandleGetRequestAsync(context.Response.Body, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The normal end of an event stream.
        }
    }

    public async Task DeleteAsync(HttpContext context, string? bundle)
    {
        if (await AdmitAsync(context, bundle) is not { } scope)
        {
            return;
        }

        if (ProtocolVersions.IsStateless(context.Request.Headers[ProtocolVersionHeader].ToString()))
        {
            context.Response.Headers.Allow = HttpMethods.Post;
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status405MethodNotAllowed, McpErrorCode.InvalidRequest,
                "Method Not Allowed: protocol version 2026-07-28 has no sessions to end; use POST.");
            return;
        }

        if (await FindSessionAsync(context, scope, context.Request.Headers[SessionHeader].ToString(), default) is not { } session)
        {
            return;
        }

        await sessions.CloseAsync(session.Id);
        LogSessionClosed(scope.AgentId);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>Host/Origin, then the agent's key, then the bundle: the scope of the request, or null once an error is written.</summary>
    private async Task<AgentScope?> AdmitAsync(HttpContext context, string? bundle)
    {
        var snapshot = config.Current;
        if (HttpGuards.CheckHostAndOrigin(context.Request, snapshot.Config.Server) is { } refusal)
        {
            LogRefused(context.Request.Host.Value ?? "", context.Request.Headers.Origin.ToString());
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status403Forbidden, McpErrorCode.InvalidRequest, refusal);
            return null;
        }

        var key = HttpGuards.BearerToken(context.Request);
        if (!snapshot.Agents.TryFindByKey(key, out var agent))
        {
            await HttpGuards.WriteUnauthorizedAsync(context, key is not null);
            return null;
        }

        if (bundle is not null && !snapshot.Config.Bundles.ContainsKey(bundle))
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status404NotFound, McpErrorCode.InvalidRequest, $"Not Found: there is no bundle '{bundle}'.");
            return null;
        }

        if (!ProxyView.BundlesFor(snapshot.Config, agent, bundle).Any())
        {
            LogForbidden(agent.Id, bundle ?? "*");
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status403Forbidden, McpErrorCode.InvalidRequest,
                bundle is null
                    ? $"Forbidden: agent '{agent.Id}' is not a member of any bundle."
                    : $"Forbidden: agent '{agent.Id}' is not a member of bundle '{bundle}'.");
            return null;
        }

        return new AgentScope(agent.Id, bundle, views);
    }

    private async Task<JsonRpcMessage?> ReadMessageAsync(HttpContext context)
    {
        var limit = config.Current.Config.Server.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            await TooLargeAsync(context, limit);
            return null;
        }

        // Kestrel enforces the limit on chunked bodies too; TestServer and other hosts rely on the copy below.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }

        // Straight from Kestrel's pipe: no copy, and no buffer of our own per request.
        var body = context.Request.BodyReader;
        ReadResult read;
        try
        {
            while (true)
            {
                read = await body.ReadAsync(context.RequestAborted);
                if (read.Buffer.Length > limit)
                {
                    body.AdvanceTo(read.Buffer.End);
                    await TooLargeAsync(context, limit);
                    return null;
                }

                if (read.IsCompleted)
                {
                    break;
                }

                // Nothing consumed, all examined: the next read returns once more of the body has arrived.
                body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await TooLargeAsync(context, limit);
            return null;
        }

        JsonRpcMessage? message;
        try
        {
            message = Parse(read.Buffer);
        }
        catch (JsonException e)
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status400BadRequest, McpErrorCode.ParseError,
                $"Parse error: the body is not a JSON-RPC message ({e.Message})");
            return null;
        }
        finally
        {
            // The message holds copies (JsonNode), not slices of the pipe's memory.
            body.AdvanceTo(read.Buffer.End);
        }

        if (message is null)
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status400BadRequest, McpErrorCode.InvalidRequest, "Invalid Request: the body is null.");
        }

        return message;
    }

    private static JsonRpcMessage? Parse(ReadOnlySequence<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        var message = JsonSerializer.Deserialize(ref reader, MessageType);

        // One value and nothing after it but white space (the reader throws on anything else).
        return reader.Read() ? throw new JsonException("there is more after the JSON-RPC message") : message;
    }

    private static readonly JsonTypeInfo<JsonRpcMessage> MessageType =
        (JsonTypeInfo<JsonRpcMessage>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage));

    private static Task TooLargeAsync(HttpContext context, long limit) =>
        HttpGuards.WriteErrorAsync(context, StatusCodes.Status413PayloadTooLarge, McpErrorCode.InvalidRequest,
            $"Payload Too Large: request bodies are limited to {limit} bytes (server.maxRequestBodyBytes).");

    private async Task<AgentSession?> FindSessionAsync(HttpContext context, AgentScope scope, string sessionId, RequestId requestId)
    {
        if (sessionId.Length == 0)
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status400BadRequest, McpErrorCode.InvalidRequest,
                "Bad Request: the Mcp-Session-Id header is required.", requestId);
            return null;
        }

        // A session of another endpoint is as unknown here as an expired one.
        var session = sessions.Find(sessionId);
        if (session is null || !string.Equals(session.Scope.Bundle, scope.Bundle, StringComparison.Ordinal))
        {
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status404NotFound, -32001,
                "Session not found: it expired or was closed; start a new one with initialize.", requestId);
            return null;
        }

        if (!string.Equals(session.Scope.AgentId, scope.AgentId, StringComparison.Ordinal))
        {
            LogSessionHijack(scope.AgentId, session.Scope.AgentId);
            await HttpGuards.WriteErrorAsync(context, StatusCodes.Status403Forbidden, McpErrorCode.InvalidRequest,
                "Forbidden: this session belongs to another agent.", requestId);
            return null;
        }

        return session;
    }

    private AgentSession StartSession(AgentScope requestScope)
    {
        var scope = new AgentScope(requestScope.AgentId, requestScope.Bundle, views) { SessionId = AgentSession.NewId() };
        var transport = new StreamableHttpServerTransport(loggers) { SessionId = scope.SessionId };
        var server = McpServer.Create(transport, proxy.CreateOptions(scope), loggers);
        var session = new AgentSession(scope, transport, server, time);
        sessions.Add(session);
        return session;
    }

    private async Task ServeStatelessAsync(HttpContext context, AgentScope scope, JsonRpcMessage message)
    {
        var transport = new StreamableHttpServerTransport(loggers) { Stateless = true };
        await using var server = McpServer.Create(transport, proxy.CreateOptions(scope), loggers);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var run = server.RunAsync(stop.Token);
        try
        {
            await RespondAsync(context, transport, message, HttpGuards.SetStatelessErrorStatusAsync);
        }
        finally
        {
            await transport.DisposeAsync();
            await stop.CancelAsync();
            try
            {
                await run;
            }
            catch (OperationCanceledException)
            {
                // The per-request server ends by cancellation once its one request is answered.
            }
        }
    }

    private static async Task RespondAsync(
        HttpContext context, StreamableHttpServerTransport transport, JsonRpcMessage message, Func<HttpContext, JsonRpcMessage?, ValueTask>? onResponseStarting = null)
    {
        StartEventStream(context);
        var written = onResponseStarting is null
            ? await transport.HandlePostRequestAsync(message, context.Response.Body, context.RequestAborted)
            : await transport.HandlePostRequestAsync(message, context.Response.Body, first => onResponseStarting(context, first), context.RequestAborted);
        if (!written)
        {
            // A notification or response from the agent: nothing to stream back.
            context.Response.Headers.ContentType = (string?)null;
            context.Response.StatusCode = StatusCodes.Status202Accepted;
        }
    }

    private static void StartEventStream(HttpContext context)
    {
        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache,no-store";
        context.Response.Headers.ContentEncoding = "identity";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.GetRequiredFeature<IHttpResponseBodyFeature>().DisableBuffering();
    }

    [LoggerMessage(3410, LogLevel.Information, "Agent {Agent} started a session on bundle {Bundle}")]
    private partial void LogSessionStarted(string agent, string bundle);

    [LoggerMessage(3411, LogLevel.Information, "Agent {Agent} closed its session")]
    private partial void LogSessionClosed(string agent);

    [LoggerMessage(3412, LogLevel.Warning, "Refused a request for Host '{Host}' from Origin '{Origin}' (DNS-rebinding check)")]
    private partial void LogRefused(string host, string origin);

    [LoggerMessage(3413, LogLevel.Warning, "Agent {Agent} asked for bundle {Bundle}, which it is not a member of")]
    private partial void LogForbidden(string agent, string bundle);

    [LoggerMessage(3414, LogLevel.Warning, "Agent {Agent} presented a session of agent {Owner}")]
    private partial void LogSessionHijack(string agent, string owner);
}
