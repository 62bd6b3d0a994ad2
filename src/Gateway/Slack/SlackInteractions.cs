using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Notifiers.Slack;
using Microsoft.AspNetCore.WebUtilities;

namespace ApprovalEngine.Gateway.Slack;

/// <summary>
/// Clicks waiting to be decided. Slack wants its answer within 3 s, and a decision may take longer (users.info, a
/// busy database), so both entry points only verify, deduplicate and enqueue here, and answer at once.
/// </summary>
internal sealed partial class SlackInteractionQueue(SlackDecisions decisions, ILogger<SlackInteractionQueue> logger) : BackgroundService
{
    private const int Workers = 4;

    private readonly Channel<SlackInteraction> _queue = Channel.CreateBounded<SlackInteraction>(
        new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>False when the queue is full (the click is lost; the person sees nothing happen and clicks again).</summary>
    public bool Enqueue(SlackInteraction interaction)
    {
        if (_queue.Writer.TryWrite(interaction))
        {
            return true;
        }

        LogQueueFull();
        return false;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(() => ConsumeAsync(stoppingToken), CancellationToken.None)));

    private async Task ConsumeAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var interaction in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await decisions.HandleAsync(interaction, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    LogHandleFailed(e, interaction.ApprovalId);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(3720, LogLevel.Error, "The Slack click queue is full; a click was dropped")]
    private partial void LogQueueFull();

    [LoggerMessage(3721, LogLevel.Error, "Handling a Slack click on approval {ApprovalId} failed")]
    private partial void LogHandleFailed(Exception exception, Guid? approvalId);
}

/// <summary>
/// <c>POST /slack/interactions</c>, Slack's Interactivity Request URL. The v0 signature is checked over the raw body
/// (constant-time, timestamp within ±5 minutes), and each signature is accepted once across all nodes, so a captured
/// request cannot be replayed even inside the window. Unsigned <c>ssl_check</c> probes get 200 and nothing else.
/// </summary>
internal sealed partial class SlackInteractionsEndpoint(
    LiveConfiguration config, SlackStore store, SlackInteractionQueue queue, TimeProvider time, ILogger<SlackInteractionsEndpoint> logger)
{
    public const string Path = "/slack/interactions";

    // Block action payloads carry the whole message; ours are a few kilobytes.
    private const int MaxBodyBytes = 1024 * 1024;

    public async Task<IResult> HandleAsync(HttpContext context)
    {
        if (config.Current.Config.Slack is not { Mode: SlackMode.Http, SigningSecret: { } secret })
        {
            return Results.NotFound();
        }

        var body = await ReadBodyAsync(context.Request, context.RequestAborted);
        if (body is null)
        {
            return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        }

        var form = QueryHelpers.ParseQuery(Encoding.UTF8.GetString(body));
        if (form.ContainsKey("ssl_check"))
        {
            return Results.Ok();
        }

        var timestamp = context.Request.Headers[SlackSignature.TimestampHeader].ToString();
        var signature = context.Request.Headers[SlackSignature.SignatureHeader].ToString();
        var check = SlackSignature.Verify(secret, timestamp, signature, body, time.GetUtcNow());
        var remote = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (check != SignatureCheck.Valid)
        {
            LogRejected(remote, check);
            return Unauthorized(context);
        }

        // Valid signatures are unique per request; once the timestamp leaves the window the signature check alone suffices.
        var signedAt = DateTimeOffset.FromUnixTimeSeconds(long.Parse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture));
        if (!await store.FirstDeliveryAsync("sig:" + signature, signedAt + SlackSignature.Window + TimeSpan.FromMinutes(1), context.RequestAborted))
        {
            LogReplayed(remote);
            return Unauthorized(context);
        }

        JsonElement payload;
        try
        {
            using var document = JsonDocument.Parse(form.TryGetValue("payload", out var text) ? text.ToString() : "null");
            payload = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return Results.BadRequest();
        }

        queue.Enqueue(SlackInteraction.Parse(payload));

        // An empty 200 acknowledges a click, and closes the deny modal on submission.
        return Results.Ok();
    }

    private static IResult Unauthorized(HttpContext context)
    {
        // Slack retries failed deliveries of some kinds; a forged or replayed one should not be.
        context.Response.Headers["X-Slack-No-Retry"] = "1";
        return Results.Unauthorized();
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>(4096);
        while (true)
        {
            var read = await request.Body.ReadAsync(buffer.GetMemory(4096), ct);
            if (read == 0)
            {
                return buffer.WrittenSpan.ToArray();
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > MaxBodyBytes)
            {
                return null;
            }
        }
    }

    [LoggerMessage(3730, LogLevel.Warning, "Rejected a request to /slack/interactions from {RemoteAddress}: signature {Check}")]
    private partial void LogRejected(string remoteAddress, SignatureCheck check);

    [LoggerMessage(3731, LogLevel.Warning, "Rejected a replayed request to /slack/interactions from {RemoteAddress}")]
    private partial void LogReplayed(string remoteAddress);
}

/// <summary>Socket Mode, when configured: the same clicks over a WebSocket the gateway opens, for hosts without ingress.</summary>
internal sealed partial class SlackSocketModeService(
    SlackClients clients, SlackStore store, SlackInteractionQueue queue, SlackSocketModeOptions options, TimeProvider time, ILogger<SlackSocketModeService> logger)
    : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Read once: switching between HTTP and Socket Mode needs a restart, as it does in the Slack app's settings.
        if (clients.Config is not { Mode: SlackMode.Socket })
        {
            return Task.CompletedTask;
        }

        LogStarting();
        var socket = new SlackSocketMode(ct => clients.App().OpenConnectionAsync(ct), OnEnvelopeAsync, logger, options);
        return socket.RunAsync(stoppingToken);
    }

    private async Task OnEnvelopeAsync(SlackEnvelope envelope, CancellationToken ct)
    {
        if (envelope.Type != "interactive")
        {
            return;
        }

        // The client already ignores an envelope id it has seen; this catches a redelivery that reached another node.
        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(envelope.Payload.GetRawText())));
        if (!await store.FirstDeliveryAsync("payload:" + digest, time.GetUtcNow() + TimeSpan.FromMinutes(30), ct))
        {
            LogDuplicate(envelope.EnvelopeId);
            return;
        }

        queue.Enqueue(SlackInteraction.Parse(envelope.Payload));
    }

    [LoggerMessage(3740, LogLevel.Information, "Slack Socket Mode is on: clicks arrive over a WebSocket, /slack/interactions is off")]
    private partial void LogStarting();

    [LoggerMessage(3741, LogLevel.Information, "Slack delivered envelope {EnvelopeId} again (seen on this or another node); ignored")]
    private partial void LogDuplicate(string envelopeId);
}
