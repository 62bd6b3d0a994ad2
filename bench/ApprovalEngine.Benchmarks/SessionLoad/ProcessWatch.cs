using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace ApprovalEngine.Benchmarks.SessionLoad;

/// <summary>The highest readings of a process over a window (bytes, counts); null where a reading was not available.</summary>
public sealed record ProcessPeaks(long Rss, long HighWaterMark, int Threads, int FileDescriptors, double? GcHeapBytes, double? ThreadPoolThreads, double? ThreadPoolQueue)
{
    public static string Mb(double? bytes) => bytes is { } b ? string.Create(CultureInfo.InvariantCulture, $"{b / 1048576:N0} MB") : "n/a";
}

/// <summary>
/// Watches a .NET child process from outside while load runs: its resident set, threads and open files from /proc every
/// 250 ms (and VmHWM, the kernel's peak resident set since the process started, at the end), and the runtime's own
/// counters (GC heap size, thread-pool threads and queue) once a second through an EventPipe session on the
/// "System.Runtime" event counters, as dotnet-counters reads them. Nothing in the product serves these.
/// </summary>
public sealed class ProcessWatch : IAsyncDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(250);

    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampling;
    private readonly EventPipeSession? _session;
    private readonly Task? _counters;
    private readonly Lock _gate = new();
    private long _rss;
    private int _threads;
    private int _files;
    private double? _gcHeap;
    private double? _poolThreads;
    private double? _poolQueue;

    public ProcessWatch(int pid)
    {
        _pid = pid;
        _sampling = Task.Run(SampleAsync);
        try
        {
            var provider = new EventPipeProvider("System.Runtime", EventLevel.Informational, -1, new Dictionary<string, string> { ["EventCounterIntervalSec"] = "1" });
            _session = new DiagnosticsClient(pid).StartEventPipeSession([provider], requestRundown: false, circularBufferMB: 16);
            var source = new EventPipeEventSource(_session.EventStream);
            source.Dynamic.All += OnEvent;
            _counters = Task.Run(source.Process);
        }
        catch (Exception e) when (e is ServerNotAvailableException or DiagnosticsClientException or UnauthorizedAccessException)
        {
            // No diagnostics port (disabled, or another user's process): the /proc readings still come.
            Console.WriteLine($"    (runtime counters of pid {pid} unavailable: {e.Message})");
        }
    }

    /// <summary>Stops watching and returns the peaks.</summary>
    public async Task<ProcessPeaks> StopAsync()
    {
        await _stop.CancelAsync();
        await _sampling;
        if (_session is not null)
        {
            await _session.StopAsync(CancellationToken.None);
            await _counters!;
        }

        var status = Status(_pid);
        lock (_gate)
        {
            return new ProcessPeaks(_rss, Field(status, "VmHWM:") * 1024, _threads, _files, _gcHeap, _poolThreads, _poolQueue);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _session?.Dispose();
        _stop.Dispose();
    }

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            string[] status;
            int files;
            try
            {
                status = Status(_pid);
                files = Directory.GetFiles($"/proc/{_pid}/fd").Length;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return; // the process is gone
            }

            lock (_gate)
            {
                _rss = Math.Max(_rss, Field(status, "VmRSS:") * 1024);
                _threads = Math.Max(_threads, (int)Field(status, "Threads:"));
                _files = Math.Max(_files, files);
            }
        }
        while (await Wait(timer));
    }

    private async Task<bool> Wait(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void OnEvent(TraceEvent e)
    {
        if (e.EventName != "EventCounters" || e.PayloadValue(0) is not IDictionary<string, object> outer
            || outer.TryGetValue("Payload", out var inner) is false || inner is not IDictionary<string, object> payload
            || payload.TryGetValue("Name", out var name) is false)
        {
            return;
        }

        var value = payload.TryGetValue("Mean", out var mean) ? Convert.ToDouble(mean, CultureInfo.InvariantCulture)
            : payload.TryGetValue("Increment", out var increment) ? Convert.ToDouble(increment, CultureInfo.InvariantCulture)
            : double.NaN;
        lock (_gate)
        {
            switch (name as string)
            {
                case "gc-heap-size": // MB
                    _gcHeap = Math.Max(_gcHeap ?? 0, value * 1048576);
                    break;
                case "threadpool-thread-count":
                    _poolThreads = Math.Max(_poolThreads ?? 0, value);
                    break;
                case "threadpool-queue-length":
                    _poolQueue = Math.Max(_poolQueue ?? 0, value);
                    break;
            }
        }
    }

    private static string[] Status(int pid) => File.ReadAllLines($"/proc/{pid}/status");

    // "VmRSS:	  123456 kB", "Threads:	42"
    private static long Field(string[] status, string field) =>
        status.FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal)) is { } line
            ? long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture)
            : 0;
}
