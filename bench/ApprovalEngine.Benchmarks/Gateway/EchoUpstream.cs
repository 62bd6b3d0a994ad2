using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>
/// The upstream of the gateway benchmark: a minimal MCP Streamable HTTP server (2025-11-25 sessions) on Kestrel,
/// built on the C# SDK's transport, with one tool, <c>echo {text}</c>, that answers at once. Cheap on purpose, so
/// what the gateway adds stands out. Listens on 127.0.0.1 (ephemeral port), prints <c>LISTENING http://…/mcp</c>,
/// and exits on SIGTERM or when its standard input closes.
/// </summary>
public static class EchoUpstream
{
    public const string Mode = "echo-upstream";
    public const string ToolName = "echo";
    public const string ReadyPrefix = "LISTENING ";

    private const string Path = "/mcp";

    public static async Task<int> RunAsync(CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var app = builder.Build();
        await using var sessions = new EchoSessions(app.Services.GetRequiredService<ILoggerFactory>(), app.Lifetime.ApplicationStopping);
        app.MapPost(Path, sessions.PostAsync);
        app.MapGet(Path, sessions.GetAsync);
        app.MapDelete(Path, sessions.DeleteAsync);
        await app.StartAsync(ct);

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Console.WriteLine($"{ReadyPrefix}{address}{Path}");

        // Ends with the parent: its end of our standard input closes when it exits, however it exits.
        var parentGone = Task.Factory.StartNew(
            () =>
            {
                while (Console.In.ReadLine() is not null)
                {
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        await Task.WhenAny(parentGone, app.WaitForShutdownAsync(ct));
        await sessions.DisposeAsync();
        await app.StopAsync(CancellationToken.None);
        return 0;
    }

    /// <summary>New options for each session: the SDK server may fill in what the options leave out.</summary>
    internal static McpServerOptions CreateServerOptions() => new()
    {
        ServerInfo = new Implementation { Name = "bench-echo", Version = "1.0.0" },
        Capabilities = new ServerCapabilities { Tools = new ToolsCapability() },
        Handlers = new McpServerHandlers
        {
            ListToolsHandler = (_, _) => ValueTask.FromResult(new ListToolsResult { Tools = [EchoTool] }),
            CallToolHandler = (request, _) =>
            {
                if (request.Params?.Name != ToolName)
                {
                    throw new McpProtocolException($"Unknown tool '{request.Params?.Name}'.", McpErrorCode.InvalidParams);
                }

                var text = request.Params.Arguments is { } arguments && arguments.TryGetValue("text", out var value) && value.ValueKind == JsonValueKind.String
                    ? value.GetString()!
                    : "";
                return ValueTask.FromResult(new CallToolResult { Content = [new TextContentBlock { Text = text }] });
            },
        },
    };

    private static Tool EchoTool { get; } = new()
    {
        Name = ToolName,
        Description = "Returns its text argument.",
        InputSchema = JsonDocument.Parse("""{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}""").RootElement.Clone(),
        Annotations = new ToolAnnotations { ReadOnlyHint = true, IdempotentHint = true },
    };
}

/// <summary>The echo server's sessions: one SDK transport and server each, found by <c>Mcp-Session-Id</c>.</summary>
internal sealed class EchoSessions(ILoggerFactory loggers, CancellationToken stopping) : IAsyncDisposable
{
    private const string SessionHeader = "Mcp-Session-Id";

    private static readonly JsonTypeInfo<JsonRpcMessage> MessageType = (JsonTypeInfo<JsonRpcMessage>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage));

    private readonly ConcurrentDictionary<string, EchoSession> _sessions = new(StringComparer.Ordinal);

    public async Task PostAsync(HttpContext context)
    {
        JsonRpcMessage? message;
        try
        {
            message = await JsonSerializer.DeserializeAsync(context.Request.Body, MessageType, context.RequestAborted);
        }
        catch (JsonException)
        {
            message = null;
        }

        if (message is null)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var id = context.Request.Headers[SessionHeader].ToString();
        EchoSession? session;
        if (id.Length == 0)
        {
            if (message is not JsonRpcRequest { Method: RequestMethods.Initialize })
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }

            session = new EchoSession(loggers);
            _sessions[session.Id] = session;
        }
        else if (!_sessions.TryGetValue(id, out session))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        context.Response.Headers[SessionHeader] = session.Id;
        StartEventStream(context);
        if (!await session.Transport.HandlePostRequestAsync(message, context.Response.Body, context.RequestAborted))
        {
            // A notification or a response: nothing to stream back.
            context.Response.Headers.ContentType = (string?)null;
            context.Response.StatusCode = StatusCodes.Status202Accepted;
        }
    }

    public async Task GetAsync(HttpContext context)
    {
        if (!_sessions.TryGetValue(context.Request.Headers[SessionHeader].ToString(), out var session))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        // Open until the client goes, the session is deleted, or the server stops.
        using var end = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, session.Closed, stopping);
        context.Response.Headers[SessionHeader] = session.Id;
        StartEventStream(context);
        try
        {
            await session.Transport.HandleGetRequestAsync(context.Response.Body, end.Token);
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
            // The normal end of an event stream.
        }
    }

    public async Task DeleteAsync(HttpContext context)
    {
        if (!_sessions.TryRemove(context.Request.Headers[SessionHeader].ToString(), out var session))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        await session.DisposeAsync();
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in _sessions.Keys)
        {
            if (_sessions.TryRemove(id, out var session))
            {
                await session.DisposeAsync();
            }
        }
    }

    private static void StartEventStream(HttpContext context)
    {
        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache,no-store";
        context.Features.GetRequiredFeature<IHttpResponseBodyFeature>().DisableBuffering();
    }
}

internal sealed class EchoSession : IAsyncDisposable
{
    private readonly CancellationTokenSource _closed = new();
    private readonly McpServer _server;
    private readonly Task _run;

    public EchoSession(ILoggerFactory loggers)
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        Id = WebEncoders.Base64UrlEncode(bytes);
        Transport = new StreamableHttpServerTransport(loggers) { SessionId = Id };
        _server = McpServer.Create(Transport, EchoUpstream.CreateServerOptions(), loggers);
        _run = _server.RunAsync(_closed.Token);
    }

    public string Id { get; }

    public StreamableHttpServerTransport Transport { get; }

    public CancellationToken Closed => _closed.Token;

    public async ValueTask DisposeAsync()
    {
        await Transport.DisposeAsync();
        await _closed.CancelAsync();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
            // RunAsync ends by cancellation: the session's normal end.
        }

        await _server.DisposeAsync();
        _closed.Dispose();
    }
}
