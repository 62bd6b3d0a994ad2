using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace ApprovalEngine.Benchmarks.Gated;

/// <summary>
/// A .NET process's memory right after a full garbage collection, in bytes: resident set (all, anonymous), the GC
/// heap's live objects (what survived that GC), the heap's size (live objects and the free space between them),
/// and the count of GC handles.
/// </summary>
public sealed record MemoryReading(long Rss, long RssAnonymous, long GcLive, long GcHeap, long GcHandles)
{
    public static MemoryReading operator -(MemoryReading after, MemoryReading before) => new(
        after.Rss - before.Rss, after.RssAnonymous - before.RssAnonymous, after.GcLive - before.GcLive, after.GcHeap - before.GcHeap, after.GcHandles - before.GcHandles);

    public MemoryReading Per(int count) => new(Rss / count, RssAnonymous / count, GcLive / count, GcHeap / count, GcHandles / count);
}

/// <summary>
/// Reads a .NET child process's memory from outside, without an endpoint in the product: a full, blocking GC is
/// induced through the runtime's diagnostics port (an EventPipe session with the GCHeapCollect keyword, as
/// dotnet-gcdump does), the live bytes and the heap's size after it come from that GC's heap statistics event, and the resident
/// set (all of it, and its anonymous part: heap, stacks, native allocations) from /proc/&lt;pid&gt;/status.
/// </summary>
public static class MemoryProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<MemoryReading> ReadAsync(int pid, CancellationToken ct)
    {
        var (live, heap, handles) = await CollectAsync(pid, ct);
        var status = File.ReadAllLines($"/proc/{pid}/status");
        return new MemoryReading(Kilobytes(status, "VmRSS:") * 1024, Kilobytes(status, "RssAnon:") * 1024, live, heap, handles);
    }

    /// <summary>Induces a full GC in <paramref name="pid"/>; what survived it in every generation, the heap's size after it, and the GC handles.</summary>
    private static async Task<(long Live, long Heap, long Handles)> CollectAsync(int pid, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Timeout);
        var client = new DiagnosticsClient(pid);
        var keywords = (long)(ClrTraceEventParser.Keywords.GC | ClrTraceEventParser.Keywords.GCHeapCollect);
        using var session = await client.StartEventPipeSessionAsync(
            [new EventPipeProvider(ClrTraceEventParser.ProviderName, EventLevel.Informational, keywords)], requestRundown: false, circularBufferMB: 16, deadline.Token);
        using var source = new EventPipeEventSource(session.EventStream);
        var after = new TaskCompletionSource<(long, long, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var induced = false;
        source.Clr.GCStart += e => induced |= e.Reason == GCReason.Induced && e.Depth == 2;
        source.Clr.GCHeapStats += e =>
        {
            if (induced)
            {
                // In a full GC, the bytes promoted out of (or surviving in) each generation are all the live objects.
                var live = e.TotalPromotedSize0 + e.TotalPromotedSize1 + e.TotalPromotedSize2 + e.TotalPromotedSize3 + e.TotalPromotedSize4;
                after.TrySetResult((live, e.TotalHeapSize, e.GCHandleCount));
            }
        };
        var processing = Task.Run(source.Process, CancellationToken.None);
        try
        {
            return await after.Task.WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"No induced GC was seen in process {pid} within {Timeout.TotalSeconds:0} s.");
        }
        finally
        {
            await session.StopAsync(CancellationToken.None);
            await processing;
        }
    }

    private static long Kilobytes(string[] status, string field)
    {
        // "VmRSS:	  123456 kB"
        var line = status.FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"/proc status has no {field} line.");
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
