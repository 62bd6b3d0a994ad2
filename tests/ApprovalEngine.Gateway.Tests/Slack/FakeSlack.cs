using System.Collections.Concurrent;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ApprovalEngine.Gateway.Tests.Slack;

/// <summary>
/// A local stand-in for Slack on 127.0.0.1: the Web API methods the gateway calls (answering like Slack, including
/// <c>ok:false</c> errors and 429 with <c>Retry-After</c>), <c>response_url</c> hooks, and a Socket Mode WebSocket
/// server. Every call is recorded with its arrival time.
/// </summary>
internal sealed class FakeSlack : IAsyncDisposable
{
    public const string BotToken = "xoxb-fake-bot-token";
    public const string AppToken = "xapp-fake-app-token";
    public const string TeamId = "T0FAKE";

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, string> emails = new();
    private readonly ConcurrentDictionary<(string Channel, string Ts), JsonObject> messages = new();
    private readonly ConcurrentQueue<Throttle> throttles = new();
    private int nextTs;
    private int nextView;
    private int nextSocket;

    private FakeSlack(WebApplication app)
    {
        this.app = app;
        app.UseWebSockets();
        app.MapPost("/api/{method}", (string method, HttpContext http) => ApiAsync(method, http));
        app.MapPost("/hooks/{name}", async (string name, HttpContext http) =>
        {
            Responses.Enqueue(new HookCall(name, JsonNode.Parse(await ReadAsync(http.Request))!.AsObject()));
            return Results.Text("ok");
        });
        app.Map("/socket/{number:int}", (int number, HttpContext http) => SocketAsync(number, http));
    }

    public sealed record ApiCall(string Method, string Authorization, JsonObject Body, DateTimeOffset At, int Status);

    public sealed record HookCall(string Name, JsonObject Body);

    private sealed record Throttle(string Method, Func<JsonObject, bool> Matches, int Seconds);

    public ConcurrentQueue<ApiCall> Calls { get; } = new();

    /// <summary>Everything posted to response_url hooks: the ephemeral answers to the person who clicked.</summary>
    public ConcurrentQueue<HookCall> Responses { get; } = new();

    /// <summary>Socket Mode connections, in the order the gateway opened them.</summary>
    public ConcurrentQueue<FakeSocket> Sockets { get; } = new();

    public Uri ApiBaseUrl { get; private set; } = null!;

    private Uri Root { get; set; } = null!;

    public static async Task<FakeSlack> StartAsync()
    {
        var fake = new FakeSlack(LoopbackServer.Build());
        fake.Root = new Uri(await LoopbackServer.StartAsync(fake.app));
        fake.ApiBaseUrl = new Uri(fake.Root, "/api/");
        return fake;
    }

    public void AddUser(string userId, string email) => emails[userId] = email;

    public Uri HookUrl(string name) => new(Root, $"/hooks/{name}");

    /// <summary>The next call of <paramref name="method"/> whose body matches is answered 429 with <c>Retry-After</c>.</summary>
    public void ThrottleNext(string method, Func<JsonObject, bool> matches, int retryAfterSeconds) =>
        throttles.Enqueue(new Throttle(method, matches, retryAfterSeconds));

    public List<ApiCall> CallsOf(string method) => [.. Calls.Where(c => c.Method == method)];

    /// <summary>The messages showing <paramref name="approvalId"/>, as they look now, keyed by (channel, ts).</summary>
    public Dictionary<(string Channel, string Ts), JsonObject> MessagesOf(Guid approvalId) =>
        messages.Where(m => m.Value.ToJsonString().Contains(approvalId.ToString("D"), StringComparison.Ordinal))
            .ToDictionary(m => m.Key, m => m.Value);

    public async ValueTask DisposeAsync()
    {
        foreach (var socket in Sockets)
        {
            socket.Abort();
        }

        await app.StopAsync();
        await app.DisposeAsync();
    }

    private async Task<IResult> ApiAsync(string method, HttpContext http)
    {
        var text = await ReadAsync(http.Request);
        var body = http.Request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) == true
            ? JsonNode.Parse(text)!.AsObject()
            : Form(text);
        var authorization = http.Request.Headers.Authorization.ToString();
        var expected = "Bearer " + (method == "apps.connections.open" ? AppToken : BotToken);
        if (TakeThrottle(method, body) is { } throttle)
        {
            Calls.Enqueue(new ApiCall(method, authorization, body, DateTimeOffset.UtcNow, 429));
            http.Response.Headers.RetryAfter = throttle.Seconds.ToString(CultureInfo.InvariantCulture);
            return Results.Json(new JsonObject { ["ok"] = false, ["error"] = "ratelimited" }, statusCode: 429);
        }

        Calls.Enqueue(new ApiCall(method, authorization, body, DateTimeOffset.UtcNow, 200));
        if (authorization != expected)
        {
            return Error("invalid_auth");
        }

        switch (method)
        {
            case "chat.postMessage":
                var channel = body["channel"]!.GetValue<string>();
                var ts = string.Create(CultureInfo.InvariantCulture, $"1700000000.{Interlocked.Increment(ref nextTs):D6}");
                messages[(channel, ts)] = body;
                return Ok(new JsonObject { ["channel"] = channel, ["ts"] = ts, ["message"] = new JsonObject { ["ts"] = ts } });
            case "chat.update":
                var key = (body["channel"]!.GetValue<string>(), body["ts"]!.GetValue<string>());
                if (!messages.ContainsKey(key))
                {
                    return Error("message_not_found");
                }

                messages[key] = body;
                return Ok(new JsonObject { ["channel"] = key.Item1, ["ts"] = key.Item2 });
            case "users.info":
                var user = body["user"]?.GetValue<string>() ?? "";
                return emails.TryGetValue(user, out var email)
                    ? Ok(new JsonObject { ["user"] = new JsonObject { ["id"] = user, ["team_id"] = TeamId, ["profile"] = new JsonObject { ["email"] = email } } })
                    : Error("user_not_found");
            case "users.lookupByEmail":
                var wanted = body["email"]?.GetValue<string>();
                var found = emails.FirstOrDefault(e => string.Equals(e.Value, wanted, StringComparison.OrdinalIgnoreCase)).Key;
                return found is null ? Error("users_not_found") : Ok(new JsonObject { ["user"] = new JsonObject { ["id"] = found } });
            case "conversations.open":
                return Ok(new JsonObject { ["channel"] = new JsonObject { ["id"] = "D" + body["users"]!.GetValue<string>() } });
            case "views.open":
                return Ok(new JsonObject { ["view"] = new JsonObject { ["id"] = $"V{Interlocked.Increment(ref nextView)}" } });
            case "apps.connections.open":
                var url = new UriBuilder(Root) { Scheme = "ws", Path = $"/socket/{Interlocked.Increment(ref nextSocket)}" }.Uri;
                return Ok(new JsonObject { ["url"] = url.ToString() });
            default:
                return Error("unknown_method");
        }
    }

    private Throttle? TakeThrottle(string method, JsonObject body)
    {
        // Single-threaded enough for tests: the queue holds at most a couple of entries.
        lock (throttles)
        {
            if (throttles.TryPeek(out var next) && next.Method == method && next.Matches(body))
            {
                throttles.TryDequeue(out _);
                return next;
            }
        }

        return null;
    }

    private async Task SocketAsync(int number, HttpContext http)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            http.Response.StatusCode = 400;
            return;
        }

        using var webSocket = await http.WebSockets.AcceptWebSocketAsync();
        var socket = new FakeSocket(number, webSocket);
        Sockets.Enqueue(socket);
        await socket.SendAsync(new JsonObject
        {
            ["type"] = "hello",
            ["num_connections"] = Sockets.Count(s => s.ClosedAt is null),
            ["debug_info"] = new JsonObject { ["host"] = "fake", ["approximate_connection_time"] = 18060 },
            ["connection_info"] = new JsonObject { ["app_id"] = "A0FAKE" },
        });
        await socket.ReadUntilClosedAsync();
    }

    private static IResult Ok(JsonObject body)
    {
        body["ok"] = true;
        return Results.Json(body);
    }

    private static IResult Error(string error) => Results.Json(new JsonObject { ["ok"] = false, ["error"] = error });

    private static JsonObject Form(string text)
    {
        var form = new JsonObject();
        foreach (var (key, value) in Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(text))
        {
            form[key] = value.ToString();
        }

        return form;
    }

    private static async Task<string> ReadAsync(HttpRequest request)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }
}

/// <summary>One Socket Mode connection as the server sees it: what it received (acks), when it opened and closed.</summary>
internal sealed class FakeSocket(int number, WebSocket socket)
{
    private readonly SemaphoreSlim sending = new(1, 1);

    public int Number { get; } = number;

    public DateTimeOffset OpenedAt { get; } = DateTimeOffset.UtcNow;

    public DateTimeOffset? ClosedAt { get; private set; }

    public ConcurrentQueue<JsonObject> Received { get; } = new();

    public bool Acked(string envelopeId) => Received.Any(m => m["envelope_id"]?.GetValue<string>() == envelopeId);

    public async Task SendAsync(JsonObject message)
    {
        await sending.WaitAsync();
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            sending.Release();
        }
    }

    public void Abort() => socket.Abort();

    public async Task ReadUntilClosedAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    break;
                }

                Received.Enqueue(JsonNode.Parse(Encoding.UTF8.GetString(buffer, 0, received.Count))!.AsObject());
            }
        }
        catch (WebSocketException)
        {
        }
        finally
        {
            ClosedAt = DateTimeOffset.UtcNow;
        }
    }
}
