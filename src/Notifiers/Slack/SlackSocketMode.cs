using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Notifiers.Slack;

/// <summary>One Socket Mode delivery: <c>interactive</c> (the same payload HTTP would post), <c>events_api</c>, <c>slash_commands</c>.</summary>
public sealed record SlackEnvelope(string EnvelopeId, string Type, JsonElement Payload, int RetryAttempt);

public sealed record SlackSocketModeOptions
{
    /// <summary>How long a new connection may take to say hello before it counts as failed.</summary>
    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan MinReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Envelope ids remembered for deduplication; Slack redelivers within seconds, so a short memory is enough.</summary>
    public int RememberedEnvelopes { get; init; } = 4096;

    public int MaxMessageBytes { get; init; } = 1024 * 1024;
}

/// <summary>
/// Socket Mode without an SDK: <c>apps.connections.open</c> for a WebSocket URL, wait for <c>hello</c>, acknowledge
/// every envelope by its id at once, then hand it on. On <c>disconnect</c> the replacement connection is opened (and
/// has said hello) before the old one is closed, and the old one keeps delivering until then, so nothing falls in
/// between; deliveries seen on both are handed on once. A connection that drops without warning is replaced with
/// backoff.
/// </summary>
/// <param name="openConnection">Calls <c>apps.connections.open</c> with the app-level token.</param>
/// <param name="onEnvelope">Called after the ack, once per envelope id.</param>
public sealed partial class SlackSocketMode(
    Func<CancellationToken, Task<SlackResult>> openConnection,
    Func<SlackEnvelope, CancellationToken, Task> onEnvelope,
    ILogger logger,
    SlackSocketModeOptions? options = null)
{
    private readonly SlackSocketModeOptions _options = options ?? new SlackSocketModeOptions();
    private readonly Channel<(SlackSocketConnection Connection, string? Disconnect)> _events = Channel.CreateUnbounded<(SlackSocketConnection, string?)>();
    private readonly RecentIds _seen = new((options ?? new SlackSocketModeOptions()).RememberedEnvelopes);
    private readonly List<SlackSocketConnection> _live = [];
    private int _opened;

    /// <summary>Connections opened so far (for tests and diagnostics).</summary>
    public int ConnectionsOpened => Volatile.Read(ref _opened);

    /// <summary>Keeps one connection open until <paramref name="stoppingToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        SlackSocketConnection? current = null;
        var failures = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (current is null)
                {
                    current = await ConnectAsync(stoppingToken);
                    if (current is null)
                    {
                        await Task.Delay(Backoff(failures++), stoppingToken);
                        continue;
                    }

                    failures = 0;
                }

                var (connection, disconnect) = await _events.Reader.ReadAsync(stoppingToken);
                if (connection != current)
                {
                    // A replaced connection finished closing.
                    if (disconnect is null)
                    {
                        await RetireAsync(connection);
                    }

                    continue;
                }

                if (disconnect is null)
                {
                    LogDropped(connection.Number);
                    await RetireAsync(connection);
                    current = null;
                    continue;
                }

                LogDisconnectRequested(connection.Number, disconnect);
                if (await ConnectAsync(stoppingToken) is { } next)
                {
                    current = next;
                    _ = Task.Run(() => connection.CloseAsync(), CancellationToken.None);
                }

                // Otherwise keep the old one while it lasts; its closing brings us back here with a reconnect.
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            SlackSocketConnection[] open;
            lock (_live)
            {
                open = [.. _live];
            }

            await Task.WhenAll(open.Select(c => c.CloseAsync()));
            foreach (var connection in open)
            {
                await RetireAsync(connection);
            }
        }
    }

    private async Task<SlackSocketConnection?> ConnectAsync(CancellationToken ct)
    {
        SlackResult opened;
        try
        {
            opened = await openConnection(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            opened = SlackResult.Failed(e.GetType().Name, transient: true);
        }

        if (!opened.Ok || !Uri.TryCreate(opened.String("url"), UriKind.Absolute, out var url) || url.Scheme is not ("wss" or "ws"))
        {
            LogOpenFailed(opened.Error ?? "no WebSocket URL in the answer");
            return null;
        }

        var connection = new SlackSocketConnection(
            Interlocked.Increment(ref _opened), _options.MaxMessageBytes, DeliverAsync, closed => _events.Writer.TryWrite((closed, null)));
        lock (_live)
        {
            _live.Add(connection);
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.HelloTimeout);
            await connection.OpenAsync(url, timeout.Token);
            LogConnected(connection.Number);
            return connection;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            LogConnectFailed(connection.Number, e.Message);
            await RetireAsync(connection);
            return null;
        }
    }

    private async Task RetireAsync(SlackSocketConnection connection)
    {
        lock (_live)
        {
            _live.Remove(connection);
        }

        await connection.DisposeAsync();
    }

    private TimeSpan Backoff(int failures) =>
        TimeSpan.FromTicks(Math.Min(_options.MaxReconnectDelay.Ticks, _options.MinReconnectDelay.Ticks << Math.Min(failures, 16)));

    private async Task DeliverAsync(SlackSocketConnection connection, JsonElement message, CancellationToken ct)
    {
        var type = message.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (type)
        {
            case "hello":
                connection.SaidHello();
                return;
            case "disconnect":
                var reason = message.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                await _events.Writer.WriteAsync((connection, reason ?? "unspecified"), ct);
                return;
        }

        if (!message.TryGetProperty("envelope_id", out var idElement) || idElement.GetString() is not { Length: > 0 } id)
        {
            return;
        }

        // Ack first: Slack wants it within 3 s, and redelivers what it did not hear about.
        await connection.SendAsync($$"""{"envelope_id":{{JsonSerializer.Serialize(id)}}}""", ct);
        if (!_seen.Add(id))
        {
            LogDuplicate(id);
            return;
        }

        var payload = message.TryGetProperty("payload", out var p) ? p.Clone() : default;
        var retry = message.TryGetProperty("retry_attempt", out var a) && a.TryGetInt32(out var n) ? n : 0;
        try
        {
            await onEnvelope(new SlackEnvelope(id, type ?? "", payload, retry), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogHandlerFailed(e, id);
        }
    }

    [LoggerMessage(4000, LogLevel.Information, "Slack Socket Mode connection {Number} is open")]
    private partial void LogConnected(int number);

    [LoggerMessage(4001, LogLevel.Warning, "Slack Socket Mode: apps.connections.open failed ({Error}); retrying")]
    private partial void LogOpenFailed(string error);

    [LoggerMessage(4002, LogLevel.Warning, "Slack Socket Mode connection {Number} failed to open: {Error}")]
    private partial void LogConnectFailed(int number, string error);

    [LoggerMessage(4003, LogLevel.Information, "Slack asked to replace Socket Mode connection {Number} ({Reason}); opening the next one first")]
    private partial void LogDisconnectRequested(int number, string reason);

    [LoggerMessage(4004, LogLevel.Warning, "Slack Socket Mode connection {Number} dropped; reconnecting")]
    private partial void LogDropped(int number);

    [LoggerMessage(4005, LogLevel.Debug, "Slack Socket Mode envelope {EnvelopeId} was delivered again; acknowledged and ignored")]
    private partial void LogDuplicate(string envelopeId);

    [LoggerMessage(4006, LogLevel.Error, "Handling Slack Socket Mode envelope {EnvelopeId} failed")]
    private partial void LogHandlerFailed(Exception exception, string envelopeId);

    /// <summary>A bounded memory of ids: the oldest is forgotten first.</summary>
    private sealed class RecentIds(int capacity)
    {
        private readonly HashSet<string> _set = new(StringComparer.Ordinal);
        private readonly Queue<string> _order = new();

        public bool Add(string id)
        {
            lock (_set)
            {
                if (!_set.Add(id))
                {
                    return false;
                }

                _order.Enqueue(id);
                if (_order.Count > capacity)
                {
                    _set.Remove(_order.Dequeue());
                }

                return true;
            }
        }
    }
}
