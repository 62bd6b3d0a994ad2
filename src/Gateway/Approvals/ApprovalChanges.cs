using System.Threading.Channels;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>
/// The changes waiting to be sent on one approval stream: at most <c>capacity</c> ids. When a change does not fit (the
/// client reads slower than approvals change) or the runtime says changes may have been missed (null), the queue
/// remembers only that the stream must start over from a snapshot, so its memory never grows.
/// </summary>
internal sealed class ApprovalChanges(int capacity)
{
    private readonly Channel<Guid> queue = Channel.CreateBounded<Guid>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private int resnapshot;

    /// <summary>Called by the runtime on whichever thread saw the change: never blocks.</summary>
    public void Offer(Guid? id)
    {
        if (id is not { } changed || !queue.Writer.TryWrite(changed))
        {
            Volatile.Write(ref resnapshot, 1);

            // Wakes the reader even when the queue was empty (a null change).
            queue.Writer.TryWrite(Guid.Empty);
        }
    }

    /// <summary>Completes when something is waiting to be taken.</summary>
    public ValueTask<bool> WaitAsync(CancellationToken cancellationToken) => queue.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>Takes everything waiting: the changed ids, or null when the stream must send a new snapshot instead.</summary>
    public HashSet<Guid>? Take()
    {
        var ids = new HashSet<Guid>();
        while (queue.Reader.TryRead(out var id))
        {
            if (id != Guid.Empty)
            {
                ids.Add(id);
            }
        }

        return Interlocked.Exchange(ref resnapshot, 0) == 1 ? null : ids;
    }
}
