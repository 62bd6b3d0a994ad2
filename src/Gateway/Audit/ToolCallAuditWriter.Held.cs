namespace ApprovalEngine.Gateway.Audit;

/// <summary>
/// Records held in memory while the database is unavailable, for <c>policy.onDatabaseUnavailable: allow</c>: the call
/// has run and its agent has the result; the record is written, in order and chained like any other, when the database
/// answers again. At most <see cref="ToolCallAuditOptions.QueueCapacity"/> are held; past that the gateway refuses calls
/// rather than hold more. Held records are lost if the process ends first (logged with their count).
/// </summary>
public sealed partial class ToolCallAuditWriter
{
    /// <summary>How often held records are tried again when no other record comes to carry them.</summary>
    public static readonly TimeSpan HeldRetryInterval = TimeSpan.FromSeconds(1);

    private readonly LinkedList<Pending> _held = new();

    // Completed when a record is held while none was: wakes the loop, which otherwise waits for queued records only.
    private TaskCompletionSource _heldAdded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _ended;

    // Held records not yet committed: those waiting in _held and those in a batch being written.
    private int _heldTotal;

    /// <summary>Records held until the database answers (see <see cref="TryHold"/>), those being written included.</summary>
    public int HeldCount
    {
        get
        {
            lock (_held)
            {
                return _heldTotal;
            }
        }
    }

    /// <summary>Whether <see cref="TryHold"/> would take a record now.</summary>
    public bool CanHold
    {
        get
        {
            lock (_held)
            {
                return _heldTotal < _options.QueueCapacity && _stopped is null && !_ended;
            }
        }
    }

    /// <summary>
    /// Keeps <paramref name="record"/> in memory and writes it when the database answers, without anyone waiting for it.
    /// False when <see cref="ToolCallAuditOptions.QueueCapacity"/> records are already held or the writer is stopping.
    /// </summary>
    public bool TryHold(ToolCallRecord record)
    {
        var normalized = ToolCallRecordNormalizer.Normalize(record);
        var pending = new Pending(normalized, Guid.CreateVersion7(normalized.StartedAt), held: true);
        bool first;
        lock (_held)
        {
            if (_heldTotal >= _options.QueueCapacity || _stopped is not null || _ended)
            {
                return false;
            }

            first = _heldTotal == 0;
            _held.AddLast(pending);
            _heldTotal++;
            if (first)
            {
                _heldAdded.TrySetResult();
            }
        }

        Start();
        if (first)
        {
            LogHolding();
        }

        return true;
    }

    /// <summary>Completes when a record is held (at once if some are).</summary>
    private Task HeldArrival()
    {
        lock (_held)
        {
            if (_held.Count > 0)
            {
                return Task.CompletedTask;
            }

            if (_heldAdded.Task.IsCompleted)
            {
                _heldAdded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return _heldAdded.Task;
        }
    }

    /// <summary>Moves the oldest held records into <paramref name="batch"/>, up to a batch's size.</summary>
    private void TakeHeld(List<Pending> batch)
    {
        lock (_held)
        {
            while (batch.Count < _options.MaxBatchSize && _held.First is { } oldest)
            {
                batch.Add(oldest.Value);
                _held.RemoveFirst();
            }
        }
    }

    /// <summary>Puts the held records of a failed batch back in front, in their order.</summary>
    private void ReturnHeld(List<Pending> batch)
    {
        lock (_held)
        {
            for (var i = batch.Count - 1; i >= 0; i--)
            {
                if (batch[i].Held)
                {
                    _held.AddFirst(batch[i]);
                }
            }
        }
    }

    /// <summary>Held records of <paramref name="batch"/> were committed.</summary>
    private int HeldCommitted(List<Pending> batch)
    {
        var count = batch.Count(p => p.Held);
        if (count > 0)
        {
            lock (_held)
            {
                _heldTotal -= count;
            }
        }

        return count;
    }

    /// <summary>The writer stops for good: held records still waiting are given up; returns how many.</summary>
    private int DropHeld()
    {
        lock (_held)
        {
            var count = _held.Count;
            _held.Clear();
            _heldTotal = 0;
            return count;
        }
    }

    // Event ids 3155-3159 (the fault-handling range): counts only, never arguments.
    [LoggerMessage(3155, LogLevel.Warning, "The database is unavailable: tool-call audit records are held in memory until it answers (policy.onDatabaseUnavailable: allow)")]
    private partial void LogHolding();

    [LoggerMessage(3156, LogLevel.Debug, "{Count} held tool-call audit records could not be written yet")]
    private partial void LogHeldNotWritten(int count, Exception exception);

    [LoggerMessage(3157, LogLevel.Error, "{Count} held tool-call audit records were never written: the writer stopped before the database answered")]
    private partial void LogHeldLost(int count);

    [LoggerMessage(3158, LogLevel.Information, "{Count} held tool-call audit records were written")]
    private partial void LogHeldWritten(int count);
}
