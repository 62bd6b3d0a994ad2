using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>
/// Cross-node wakeups. After a commit, the node wakes its own waiters at once and sends a NOTIFY (batched, outside the
/// write transaction) so other nodes wake theirs. NOTIFY is only a hint: a lost one costs at most one poll interval.
/// </summary>
public sealed partial class WakeupHub
{
    internal const string Channel = "ae_wakeup";
    private const int MaxPayloadBytes = 7000;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _listenConnectionString;
    private readonly ILogger _logger;
    private readonly string _tag = Guid.NewGuid().ToString("N")[..8];
    private readonly Channel<Guid?> _outbox = System.Threading.Channels.Channel.CreateUnbounded<Guid?>(new() { SingleReader = true });
    private readonly Dictionary<Guid, Waiter> _waiters = [];
    private readonly Lock _gate = new();

    // Copy-on-write: changes are announced without a lock, and subscribing is rare.
    private Action<Guid?>[] _watchers = [];

    internal WakeupHub(NpgsqlDataSource dataSource, string connectionString, ILogger<WakeupHub> logger)
    {
        _dataSource = dataSource;
        _logger = logger;

        // A dedicated, unpooled connection: LISTEN state must not leak into the pool, and keepalives detect a dead link.
        _listenConnectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, KeepAlive = 5 }.ConnectionString;
    }

    /// <summary>Set when tasks may be due: a local commit created some, or another node said so.</summary>
    internal WakeSignal TasksSignal { get; } = new();

    /// <summary>True while the LISTEN connection is up (for readiness and tests).</summary>
    public bool Listening { get; private set; }

    /// <summary>Announce that a workflow changed (and maybe that tasks were created).</summary>
    internal void Publish(Guid workflowId, bool tasksCreated)
    {
        Wake(workflowId);
        _outbox.Writer.TryWrite(workflowId);
        if (tasksCreated)
        {
            TasksSignal.Set();
            _outbox.Writer.TryWrite(null);
        }
    }

    /// <summary>See <see cref="WorkflowRuntime.WatchChanges"/>.</summary>
    internal IDisposable Subscribe(Action<Guid?> changed)
    {
        ArgumentNullException.ThrowIfNull(changed);
        lock (_gate)
        {
            _watchers = [.. _watchers, changed];
        }

        return new Watch(this, changed);
    }

    /// <summary>Number of change subscriptions (for tests: a closed stream must leave none behind).</summary>
    public int Watchers => Volatile.Read(ref _watchers).Length;

    /// <summary>Register interest in a workflow; dispose when done. Register before reading state to never miss a change.</summary>
    internal Registration Register(Guid workflowId)
    {
        lock (_gate)
        {
            if (!_waiters.TryGetValue(workflowId, out var waiter))
            {
                waiter = new Waiter();
                _waiters[workflowId] = waiter;
            }

            waiter.Refs++;
            return new Registration(this, workflowId, waiter);
        }
    }

    /// <summary>Number of workflows someone is waiting on (for metrics and tests).</summary>
    public int WaitedWorkflows
    {
        get
        {
            lock (_gate)
            {
                return _waiters.Count;
            }
        }
    }

    private void Unsubscribe(Action<Guid?> changed)
    {
        lock (_gate)
        {
            var index = Array.IndexOf(_watchers, changed);
            if (index >= 0)
            {
                _watchers = [.. _watchers[..index], .. _watchers[(index + 1)..]];
            }
        }
    }

    private void Announce(Guid? workflowId)
    {
        foreach (var watcher in Volatile.Read(ref _watchers))
        {
            watcher(workflowId);
        }
    }

    private void Wake(Guid workflowId)
    {
        Announce(workflowId);
        Waiter? waiter;
        lock (_gate)
        {
            if (!_waiters.Remove(workflowId, out waiter))
            {
                return;
            }
        }

        waiter.Signal.TrySetResult();
    }

    private void WakeAll()
    {
        Announce(null);
        List<Waiter> all;
        lock (_gate)
        {
            all = [.. _waiters.Values];
            _waiters.Clear();
        }

        foreach (var waiter in all)
        {
            waiter.Signal.TrySetResult();
        }

        TasksSignal.Set();
    }

    private void Release(Guid workflowId, Waiter waiter)
    {
        lock (_gate)
        {
            if (--waiter.Refs == 0 && _waiters.TryGetValue(workflowId, out var current) && current == waiter)
            {
                _waiters.Remove(workflowId);
            }
        }
    }

    /// <summary>Runs the LISTEN loop and the NOTIFY sender until <paramref name="stoppingToken"/> fires.</summary>
    internal Task RunAsync(CancellationToken stoppingToken) => Task.WhenAll(ListenAsync(stoppingToken), SendAsync(stoppingToken));

    private async Task ListenAsync(CancellationToken ct)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(_listenConnectionString);
                await connection.OpenAsync(ct);
                connection.Notification += (_, e) => OnNotification(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(ct);
                }

                Listening = true;
                backoff = TimeSpan.FromMilliseconds(100);
                LogListening();

                // Anything that changed while we were not listening: let every waiter and the worker re-check.
                WakeAll();
                while (!ct.IsCancellationRequested)
                {
                    await connection.WaitAsync(ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
            {
                Listening = false;
                LogListenFailed(e, backoff);
                WakeAll();
                try
                {
                    await Task.Delay(backoff, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }

        Listening = false;
    }

    private void OnNotification(string payload)
    {
        // Payload: "<node tag>|t" (tasks may be due) or "<node tag>|w|<id>,<id>,..." (workflows changed).
        var parts = payload.Split('|', 3);
        if (parts.Length < 2 || parts[0] == _tag)
        {
            return;
        }

        if (parts[1] == "t")
        {
            TasksSignal.Set();
        }
        else if (parts[1] == "w" && parts.Length == 3)
        {
            foreach (var id in parts[2].Split(','))
            {
                if (Guid.TryParseExact(id, "N", out var workflowId))
                {
                    Wake(workflowId);
                }
            }
        }
    }

    private async Task SendAsync(CancellationToken ct)
    {
        var reader = _outbox.Reader;
        var ids = new HashSet<Guid>();
        try
        {
            while (await reader.WaitToReadAsync(ct))
            {
                // Drain whatever queued up while the last NOTIFY was in flight: natural batching, no added delay.
                var tasks = false;
                ids.Clear();
                while (reader.TryRead(out var item))
                {
                    if (item is { } id)
                    {
                        ids.Add(id);
                    }
                    else
                    {
                        tasks = true;
                    }
                }

                try
                {
                    await NotifyAsync(ids, tasks, ct);
                }
                catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
                {
                    // Hints only; the poll interval covers the loss.
                    LogNotifyFailed(e);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task NotifyAsync(HashSet<Guid> ids, bool tasks, CancellationToken ct)
    {
        var payloads = new List<string>();
        if (tasks)
        {
            payloads.Add($"{_tag}|t");
        }

        var current = new StringBuilder();
        foreach (var id in ids)
        {
            if (current.Length == 0)
            {
                current.Append(_tag).Append("|w|");
            }
            else
            {
                current.Append(',');
            }

            current.Append(id.ToString("N", CultureInfo.InvariantCulture));
            if (current.Length > MaxPayloadBytes)
            {
                payloads.Add(current.ToString());
                current.Clear();
            }
        }

        if (current.Length > 0)
        {
            payloads.Add(current.ToString());
        }

        await using var batch = _dataSource.CreateBatch();
        foreach (var payload in payloads)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_notify($1, $2)") { Parameters = { new() { Value = Channel }, new() { Value = payload } } });
        }

        await batch.ExecuteNonQueryAsync(ct);
    }

    [LoggerMessage(1120, LogLevel.Debug, "Listening for workflow wakeups")]
    private partial void LogListening();

    [LoggerMessage(1121, LogLevel.Warning, "Wakeup listener lost its connection; retrying in {Backoff}")]
    private partial void LogListenFailed(Exception exception, TimeSpan backoff);

    [LoggerMessage(1122, LogLevel.Warning, "Sending a wakeup NOTIFY failed; other nodes will catch up by polling")]
    private partial void LogNotifyFailed(Exception exception);

    private sealed class Watch(WakeupHub hub, Action<Guid?> changed) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                hub.Unsubscribe(changed);
            }
        }
    }

    internal sealed class Waiter
    {
        public TaskCompletionSource Signal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Refs { get; set; }
    }

    /// <summary>One registered interest; <see cref="WaitAsync"/> returns on a wake, the poll interval, or cancellation.</summary>
    internal readonly struct Registration(WakeupHub hub, Guid workflowId, Waiter waiter) : IDisposable
    {
        public async Task WaitAsync(TimeSpan poll, CancellationToken ct)
        {
            try
            {
                await waiter.Signal.Task.WaitAsync(poll, ct);
            }
            catch (TimeoutException)
            {
                // The poll interval elapsed: the caller re-reads, which is the safety net for a lost NOTIFY.
            }
        }

        public void Dispose() => hub.Release(workflowId, waiter);
    }
}

/// <summary>An auto-reset async signal: <see cref="Set"/> wakes the next (or current) waiter once.</summary>
internal sealed class WakeSignal
{
    private TaskCompletionSource _tcs = New();

    public void Set() => Volatile.Read(ref _tcs).TrySetResult();

    /// <summary>Forget a wake that was already delivered, so the next wait blocks until a new one.</summary>
    public void Reset()
    {
        var current = Volatile.Read(ref _tcs);
        if (current.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _tcs, New(), current);
        }
    }

    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            await Volatile.Read(ref _tcs).Task.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            // Timed out: the caller polls.
        }
    }

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
