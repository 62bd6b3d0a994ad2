using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>
/// Group commit: callers enqueue, one loop takes everything waiting (up to <see cref="ToolCallAuditOptions.MaxBatchSize"/>),
/// writes it in one transaction, then completes every waiter. Under load a commit carries many records; alone, a record
/// is written at once (there is no lingering for company).
/// </summary>
/// <remarks>
/// The writer owns one chain stream (a random id per instance, so per process start). Only its loop appends to that
/// stream, so the chain needs no database lock, and writers on other nodes never wait for each other. The in-memory
/// head moves only after a commit is known; when the outcome of a batch is unknown (the connection broke), the
/// stream head in the database says whether it committed.
/// </remarks>
public sealed partial class ToolCallAuditWriter : IToolCallAudit, IAsyncDisposable
{
    public const string MeterName = "ApprovalEngine.Gateway.Audit";

    private readonly NpgsqlDataSource _dataSource;
    private readonly ToolCallAuditOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue;
    private readonly CancellationTokenSource _abort = new();
    private readonly Lock _gate = new();
    private readonly Histogram<int>? _batchSizes;
    private ChainHead _head;
    private bool _headUncertain;
    private Task? _loop;
    private Task? _stopped;
    private long _commits;
    private long _records;
    private long _failedBatches;

    public ToolCallAuditWriter(
        NpgsqlDataSource dataSource, IOptions<ToolCallAuditOptions> options, TimeProvider time, ILogger<ToolCallAuditWriter> logger, IMeterFactory? meters = null)
    {
        _dataSource = dataSource;
        _options = options.Value;
        if (_options.Validate() is { Count: > 0 } errors)
        {
            throw new OptionsValidationException(nameof(ToolCallAuditOptions), typeof(ToolCallAuditOptions), errors.Select(e => $"ToolCallAudit: {e}"));
        }

        _time = time;
        _logger = logger;
        StreamId = Guid.NewGuid();
        _head = new ChainHead(0, ToolCallAuditChain.Genesis(StreamId));
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        if (meters?.Create(MeterName) is { } meter)
        {
            meter.CreateObservableCounter("approval_engine.audit.commits", () => CommitCount, description: "Transactions that committed audit records");
            meter.CreateObservableCounter("approval_engine.audit.records", () => RecordCount, description: "Audit records committed");
            meter.CreateObservableCounter("approval_engine.audit.failed_batches", () => FailedBatchCount, description: "Batches whose callers were told they failed");
            meter.CreateObservableGauge("approval_engine.audit.held", () => HeldCount, description: "Records held in memory while the database is unavailable (policy.onDatabaseUnavailable: allow)");
            _batchSizes = meter.CreateHistogram<int>("approval_engine.audit.batch_size", description: "Records per commit");
        }
    }

    /// <summary>This writer's chain stream.</summary>
    public Guid StreamId { get; }

    /// <summary>Transactions committed so far: far fewer than <see cref="RecordCount"/> under concurrent load.</summary>
    public long CommitCount => Interlocked.Read(ref _commits);

    public long RecordCount => Interlocked.Read(ref _records);

    public long FailedBatchCount => Interlocked.Read(ref _failedBatches);

    public async Task<ToolCallAuditReceipt> AppendAsync(ToolCallRecord record, CancellationToken cancellationToken = default)
    {
        var normalized = ToolCallRecordNormalizer.Normalize(record);
        var pending = new Pending(normalized, Guid.CreateVersion7(normalized.StartedAt));
        Start();
        try
        {
            await _queue.Writer.WriteAsync(pending, cancellationToken);
        }
        catch (ChannelClosedException e)
        {
            throw new ToolCallAuditException("The tool-call audit writer is stopped; the record was not written.", e);
        }

        return await pending.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Starts the writer loop (appends also start it). Idempotent.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_loop is null && _stopped is null)
            {
                _loop = Task.Run(() => RunAsync(_abort.Token));
                LogStarted(StreamId, _options.Node);
            }
        }
    }

    /// <summary>
    /// Stops taking records, writes what is queued within <see cref="ToolCallAuditOptions.DrainTimeout"/> (or until
    /// <paramref name="cancellationToken"/>), then fails the rest. Idempotent.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return _stopped ??= StopOnceAsync(_loop, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _abort.Dispose();
    }

    private async Task StopOnceAsync(Task? loop, CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        if (loop is null)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(_options.DrainTimeout, _time);
        using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await loop.WaitAsync(drain.Token);
        }
        catch (OperationCanceledException) when (drain.IsCancellationRequested)
        {
            LogDrainTimedOut(_options.DrainTimeout, _queue.Reader.Count + HeldCount);
            await _abort.CancelAsync();
            await loop;
        }

        LogStopped(StreamId, RecordCount, CommitCount);
    }

    private async Task RunAsync(CancellationToken abort)
    {
        var batch = new List<Pending>(_options.MaxBatchSize);
        Task<bool>? arriving = null;
        Task? retry = null;
        var heldFailed = false;
        try
        {
            while (true)
            {
                // Held records (see TryHold) are written at once when they come; once a write of them failed, they go with
                // the next batch, or alone every HeldRetryInterval when nothing else comes.
                arriving ??= _queue.Reader.WaitToReadAsync(abort).AsTask();
                if (!arriving.IsCompleted)
                {
                    if (heldFailed)
                    {
                        retry ??= Task.Delay(HeldRetryInterval, _time, abort);
                        await Task.WhenAny(arriving, retry);
                        abort.ThrowIfCancellationRequested();
                        retry = retry.IsCompleted ? null : retry;
                    }
                    else
                    {
                        await Task.WhenAny(arriving, HeldArrival());
                    }
                }

                var open = true;
                if (arriving.IsCompleted)
                {
                    // False once the queue is completed (stopping) and empty.
                    open = await arriving;
                    arriving = null;
                }

                if (!open && HeldCount == 0)
                {
                    break;
                }

                TakeHeld(batch);
                while (batch.Count < _options.MaxBatchSize && _queue.Reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                }

                if (batch.Count > 0)
                {
                    await WriteBatchAsync(batch, abort);
                    batch.Clear();
                }

                heldFailed = HeldCount > 0;

                if (!open && HeldCount > 0)
                {
                    // Stopping with held records the database did not take: try again until the drain timeout aborts.
                    await Task.Delay(HeldRetryInterval, _time, abort);
                }
            }
        }
        catch (Exception) when (abort.IsCancellationRequested)
        {
            // The drain ran out of time (mid-batch, perhaps); what is left is failed below.
        }
        catch (Exception e)
        {
            // A bug, not a database failure (those are handled per batch). Refuse further records rather than queue
            // them for a loop that no longer runs: callers fail closed.
            LogLoopFailed(e);
        }

        _queue.Writer.TryComplete();
        _ended = true;
        var stopped = new ToolCallAuditException("The tool-call audit writer stopped before this record was confirmed; it may or may not be stored.");
        var lost = DropHeld() + batch.RemoveAll(p => p.Held);
        if (lost > 0)
        {
            LogHeldLost(lost);
        }

        Fail(batch, stopped, countBatch: false);
        while (_queue.Reader.TryRead(out var left))
        {
            left.Completion.TrySetException(stopped);
        }
    }

    private async Task WriteBatchAsync(List<Pending> batch, CancellationToken abort)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (_headUncertain)
            {
                // A batch failed without telling whether it committed, and the head could not be read then.
                try
                {
                    _head = await ReadHeadAsync(abort);
                    _headUncertain = false;
                }
                catch (Exception e) when (!abort.IsCancellationRequested)
                {
                    Fail(batch, Unavailable(batch.Count, e));
                    return;
                }
            }

            var chained = Chain(batch, _head);
            try
            {
                using var timeout = new CancellationTokenSource(_options.WriteTimeout, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(abort, timeout.Token);
                await ToolCallAuditStore.InsertAsync(_dataSource, StreamId, _options.Node, _head.Seq, chained, TimeoutSeconds, linked.Token);
                Committed(batch, chained);
                return;
            }
            catch (Exception e) when (!abort.IsCancellationRequested)
            {
                // Did it commit anyway (the connection broke after COMMIT was sent)? The stream head, written in the
                // same transaction, says so; its hash covers every record, so a match means exactly this batch.
                ChainHead actual;
                try
                {
                    actual = await ReadHeadAsync(abort);
                }
                catch (Exception) when (!abort.IsCancellationRequested)
                {
                    _headUncertain = true;
                    Fail(batch, Unavailable(batch.Count, e));
                    return;
                }

                var expected = new ChainHead(chained[^1].Seq, chained[^1].Hash);
                if (actual.SameAs(expected))
                {
                    LogCommittedDespiteError(batch.Count, StreamId, expected.Seq, e);
                    Committed(batch, chained);
                    return;
                }

                if (!actual.SameAs(_head))
                {
                    // Only this loop writes the stream, so this is a bug or a hand-edited database: continue from what
                    // is stored rather than fail every later batch on the unique (stream_id, seq).
                    LogHeadMoved(StreamId, _head.Seq, actual.Seq);
                    _head = actual;
                }
                else if (attempt == 1 && IsBrokenConnection(e))
                {
                    // Typically a pooled connection that died with a database restart while idle; the head was just read
                    // on a working one, so one more attempt will most likely go through.
                    LogRetrying(batch.Count, e);
                    continue;
                }

                Fail(batch, Unavailable(batch.Count, e));
                return;
            }
        }
    }

    private int TimeoutSeconds => Math.Max(1, (int)Math.Ceiling(_options.WriteTimeout.TotalSeconds));

    private async Task<ChainHead> ReadHeadAsync(CancellationToken abort)
    {
        using var timeout = new CancellationTokenSource(_options.WriteTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(abort, timeout.Token);
        return await ToolCallAuditStore.ReadHeadAsync(_dataSource, StreamId, TimeoutSeconds, linked.Token);
    }

    private List<ChainedRecord> Chain(List<Pending> batch, ChainHead head)
    {
        var chained = new List<ChainedRecord>(batch.Count);
        var prev = head.Hash;
        var seq = head.Seq;
        foreach (var pending in batch)
        {
            seq++;
            var hash = ToolCallAuditChain.ComputeHash(prev, StreamId, seq, pending.Id, pending.Record);
            chained.Add(new ChainedRecord(pending.Id, seq, pending.Record, prev, hash));
            prev = hash;
        }

        return chained;
    }

    private void Committed(List<Pending> batch, List<ChainedRecord> chained)
    {
        _head = new ChainHead(chained[^1].Seq, chained[^1].Hash);
        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _records, batch.Count);
        _batchSizes?.Record(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Completion.TrySetResult(new ToolCallAuditReceipt(chained[i].Id, StreamId, chained[i].Seq));
        }

        if (HeldCommitted(batch) is > 0 and var held)
        {
            LogHeldWritten(held);
        }
    }

    private void Fail(List<Pending> batch, Exception error, bool countBatch = true)
    {
        if (batch.Count == 0)
        {
            return;
        }

        if (countBatch && batch.Exists(p => !p.Held))
        {
            Interlocked.Increment(ref _failedBatches);
            LogBatchFailed(batch.Count, error.InnerException ?? error);
        }
        else if (countBatch)
        {
            // Only held records, retried every second while the database is away: not an error each time.
            LogHeldNotWritten(batch.Count, error.InnerException ?? error);
        }

        // Held records have no caller waiting: they stay held for the next attempt (or were counted as lost on stop).
        ReturnHeld(batch);
        foreach (var pending in batch)
        {
            if (!pending.Held)
            {
                pending.Completion.TrySetException(error);
            }
        }
    }

    // Not a server-side error about the batch itself (a constraint, a trigger): trying again cannot fix those.
    private static bool IsBrokenConnection(Exception e) => e switch
    {
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState is "57P01" or "57P02" or "57P03",
        NpgsqlException n => n.IsTransient || n.InnerException is IOException or System.Net.Sockets.SocketException,
        _ => false,
    };

    private static ToolCallAuditException Unavailable(int count, Exception cause) =>
        new($"The tool-call audit could not commit a batch of {count} records: {cause.Message}", cause);

    private sealed class Pending(ToolCallRecord record, Guid id, bool held = false)
    {
        public ToolCallRecord Record { get; } = record;

        public Guid Id { get; } = id;

        /// <summary>Taken by <see cref="TryHold"/>: nobody waits for it, and a failed write keeps it for the next attempt.</summary>
        public bool Held { get; } = held;

        // Waiters continue on the thread pool, not on the writer loop, which goes straight on to the next batch.
        public TaskCompletionSource<ToolCallAuditReceipt> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
