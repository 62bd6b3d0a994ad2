using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Npgsql;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>Tuning of <c>GET /api/approvals/stream</c>; the defaults suit a browser console.</summary>
public sealed class ApprovalStreamOptions
{
    /// <summary>How often a <c>: keepalive</c> comment goes out, so proxies and browsers keep an idle stream open.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the stream re-reads what changed, in case a NOTIFY from another node was lost.</summary>
    public TimeSpan Reread { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Changes queued for one connection; a client that falls further behind gets a new snapshot instead.</summary>
    public int Buffer { get; set; } = 256;

    /// <summary>The most approvals a snapshot holds (newest first); the rest are for <c>GET /api/approvals</c>.</summary>
    public int SnapshotLimit { get; set; } = 500;
}

/// <summary>
/// Server-sent events of the approvals a person may see: <c>event: snapshot</c> with the open ones, then
/// <c>event: approval</c> for every change, on any node (the runtime's wakeups: local changes and NOTIFY), with a
/// periodic bounded re-read as the safety net for a lost NOTIFY. Memory per connection is bounded: a queue of at most
/// <see cref="ApprovalStreamOptions.Buffer"/> changed ids, and a client too slow to keep up gets a new snapshot.
/// The stream ends when the client goes away or the host stops.
/// </summary>
internal sealed partial class ApprovalStream(
    WorkflowRuntime runtime, LiveConfiguration config, IHostApplicationLifetime lifetime, IOptions<ApprovalStreamOptions> options,
    IOptions<HttpJsonOptions> json, TimeProvider time, ILogger<ApprovalStream> logger)
{
    // A change commits a moment after its transaction stamps updated_at; re-reads overlap by this much.
    private static readonly TimeSpan RereadOverlap = TimeSpan.FromSeconds(5);

    private const int RereadLimit = 200;
    private const int MaxRemembered = 4096;

    // For the connections (a nested class cannot see the primary constructor's parameters).
    private WorkflowRuntime Runtime => runtime;

    private LiveConfiguration Config => config;

    private JsonSerializerOptions Json => json.Value.SerializerOptions;

    private TimeProvider Time => time;

    public async Task RunAsync(HttpContext context, Human human)
    {
        var settings = options.Value;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        var connection = new Connection(this, context, human, settings);

        // Watch before the snapshot is read, so a change committed in between is not missed.
        using var watch = runtime.WatchChanges(connection.OnChanged);
        LogOpened(human.Email);
        try
        {
            await connection.RunAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The client went away or the host is stopping: the normal end of a stream.
        }
        catch (IOException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The connection closed while an event was being written.
        }
        catch (NpgsqlException e)
        {
            // The client reconnects and gets a fresh snapshot once the database answers again.
            LogFailed(human.Email, e);
            if (!response.HasStarted)
            {
                await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable",
                    detail: "The approvals could not be read from the database; try again.").ExecuteAsync(context);
            }
        }

        LogClosed(human.Email);
    }

    private sealed class Connection(ApprovalStream owner, HttpContext context, Human human, ApprovalStreamOptions settings)
    {
        private readonly ApprovalChanges changes = new(settings.Buffer);

        // Versions already sent, so a change seen twice (NOTIFY and re-read) is sent once; forgotten when it grows.
        private readonly Dictionary<Guid, int> sent = [];
        private DateTimeOffset watermark;

        private string? Person => ApprovalAccess.SeesAll(human) ? null : human.Email;

        public void OnChanged(Guid? id) => changes.Offer(id);

        public async Task RunAsync(CancellationToken ct)
        {
            await SnapshotAsync(ct);
            var time = owner.Time;
            var nextKeepAlive = time.GetUtcNow() + settings.KeepAlive;
            var nextReread = time.GetUtcNow() + settings.Reread;
            Task<bool>? readable = null;
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var due = (nextKeepAlive < nextReread ? nextKeepAlive : nextReread) - time.GetUtcNow();
                readable ??= changes.WaitAsync(ct).AsTask();
                if (due > TimeSpan.Zero && !readable.IsCompleted)
                {
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    await Task.WhenAny(readable, Task.Delay(due, time, wait.Token));
                    await wait.CancelAsync();
                }

                ct.ThrowIfCancellationRequested();
                if (readable.IsCompleted)
                {
                    readable = null;
                    await DrainAsync(ct);
                }

                var now = time.GetUtcNow();
                if (now >= nextReread)
                {
                    await RereadAsync(ct);
                    nextReread = time.GetUtcNow() + settings.Reread;
                }

                if (now >= nextKeepAlive)
                {
                    await context.Response.WriteAsync(": keepalive\n\n", ct);
                    await context.Response.Body.FlushAsync(ct);
                    nextKeepAlive = now + settings.KeepAlive;
                }
            }
        }

        private async Task DrainAsync(CancellationToken ct)
        {
            if (changes.Take() is not { } ids)
            {
                // Changes were dropped (this client fell behind) or missed (the listener reconnected): start over.
                owner.LogResnapshot(human.Email);
                await SnapshotAsync(ct);
                return;
            }

            var snapshot = owner.Config.Current.Config;
            foreach (var workflow in await owner.Runtime.GetManyAsync(ids, ct))
            {
                await SendAsync(workflow, snapshot, ct);
            }

            await context.Response.Body.FlushAsync(ct);
        }

        private async Task SnapshotAsync(CancellationToken ct)
        {
            var page = await owner.Runtime.QueryAsync(
                new WorkflowQuery { Statuses = [Workflows.Approval.ApprovalStatus.Pending, Workflows.Approval.ApprovalStatus.Escalated], Person = Person, NewestFirst = true, Limit = settings.SnapshotLimit },
                ct);
            var snapshot = owner.Config.Current.Config;
            sent.Clear();
            foreach (var workflow in page.Items)
            {
                sent[workflow.Id] = workflow.Version;
            }

            watermark = page.AsOf;
            var items = page.Items.Select(w => ApprovalView.From(w.State, human, snapshot)).ToList();
            await WriteEventAsync("snapshot", new ApprovalPage(items, page.NextCursor), ct);
            await context.Response.Body.FlushAsync(ct);
        }

        private async Task RereadAsync(CancellationToken ct)
        {
            var page = await owner.Runtime.QueryAsync(
                new WorkflowQuery { UpdatedFrom = watermark - RereadOverlap, Person = Person, Limit = RereadLimit }, ct);
            if (page.NextCursor is not null)
            {
                // More changed than a re-read should carry: the snapshot is the bounded answer.
                await SnapshotAsync(ct);
                return;
            }

            watermark = page.AsOf;
            var snapshot = owner.Config.Current.Config;
            foreach (var workflow in page.Items)
            {
                await SendAsync(workflow, snapshot, ct);
            }

            await context.Response.Body.FlushAsync(ct);
        }

        private async Task SendAsync(WorkflowSnapshot workflow, GatewayConfig snapshot, CancellationToken ct)
        {
            if (sent.TryGetValue(workflow.Id, out var version) && version >= workflow.Version || !ApprovalAccess.MaySee(human, workflow.State))
            {
                return;
            }

            if (sent.Count >= MaxRemembered)
            {
                sent.Clear();
            }

            sent[workflow.Id] = workflow.Version;
            await WriteEventAsync("approval", ApprovalView.From(workflow.State, human, snapshot), ct);
        }

        private async Task WriteEventAsync<T>(string name, T data, CancellationToken ct)
        {
            // Compact JSON has no line breaks (those inside strings are escaped), so one data line carries it.
            var response = context.Response;
            await response.WriteAsync($"event: {name}\ndata: ", ct);
            await JsonSerializer.SerializeAsync(response.Body, data, owner.Json, ct);
            await response.WriteAsync("\n\n", ct);
        }
    }

    [LoggerMessage(3700, LogLevel.Debug, "Approval stream opened for {Email}")]
    private partial void LogOpened(string email);

    [LoggerMessage(3701, LogLevel.Debug, "Approval stream closed for {Email}")]
    private partial void LogClosed(string email);

    [LoggerMessage(3702, LogLevel.Debug, "Approval stream of {Email} fell behind or missed changes; sent a new snapshot")]
    private partial void LogResnapshot(string email);

    [LoggerMessage(3703, LogLevel.Warning, "Approval stream of {Email} ended: the database failed")]
    private partial void LogFailed(string email, Exception exception);
}
