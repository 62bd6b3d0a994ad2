using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ApprovalEngine.Notifiers.Slack;

/// <summary>One Socket Mode WebSocket: its reader loop, serialized sends, and the hello Slack must say first.</summary>
/// <param name="deliver">Gets every JSON object the server sends, in order, on the reader's thread.</param>
/// <param name="closed">Told once, when the reader stops (closed by either side, or failed).</param>
internal sealed class SlackSocketConnection(
    int number, int maxMessageBytes, Func<SlackSocketConnection, JsonElement, CancellationToken, Task> deliver, Action<SlackSocketConnection> closed)
    : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly TaskCompletionSource _hello = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private int _disposed;

    public int Number { get; } = number;

    public async Task OpenAsync(Uri url, CancellationToken ct)
    {
        await _socket.ConnectAsync(url, ct);
        _reader = Task.Run(ReadAsync, CancellationToken.None);
        await _hello.Task.WaitAsync(ct);
    }

    public void SaidHello() => _hello.TrySetResult();

    public async Task SendAsync(string text, CancellationToken ct)
    {
        await _sending.WaitAsync(ct);
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, ct);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>Closes politely, letting the reader take what is still in flight; then gives up after a few seconds.</summary>
    public async Task CloseAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "replaced", timeout.Token);
            }

            await _reader.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        _socket.Abort();
        try
        {
            await _reader;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }

        _socket.Dispose();
        _sending.Dispose();
        _stop.Dispose();
    }

    private async Task ReadAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(8192);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                buffer.ResetWrittenCount();
                ValueWebSocketReceiveResult received;
                do
                {
                    received = await _socket.ReceiveAsync(buffer.GetMemory(8192), _stop.Token);
                    buffer.Advance(received.Count);
                    if (buffer.WrittenCount > maxMessageBytes)
                    {
                        throw new WebSocketException(WebSocketError.Faulted, "A Socket Mode message exceeded the size limit.");
                    }
                }
                while (!received.EndOfMessage && received.MessageType != WebSocketMessageType.Close);

                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                JsonElement message;
                try
                {
                    using var document = JsonDocument.Parse(buffer.WrittenMemory);
                    message = document.RootElement.Clone();
                }
                catch (JsonException)
                {
                    continue;
                }

                if (message.ValueKind == JsonValueKind.Object)
                {
                    await deliver(this, message, _stop.Token);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _hello.TrySetException(new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "The connection closed before hello."));
            closed(this);
        }
    }
}
