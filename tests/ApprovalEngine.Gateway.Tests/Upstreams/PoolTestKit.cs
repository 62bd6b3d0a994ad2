// Upstreams speak 2025-11-25, where logging is current; the SDK marks it obsolete (MCP9005) for 2026-07-28.
#pragma warning disable MCP9005

using System.Collections.Concurrent;
using System.Text.Json;
using ApprovalEngine.Gateway.Upstreams;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

internal static class PoolTestKit
{
    /// <summary>Every wait in these tests is bounded by this; a healthy run stays far below it.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static UpstreamPool NewPool(TimeProvider? time = null) => new(time ?? TimeProvider.System, NullLoggerFactory.Instance);

    /// <summary>Waits for a catalog that satisfies <paramref name="condition"/> (the current one or a later one), up to <see cref="Patience"/>.</summary>
    public static async Task<UpstreamCatalog> WaitForCatalogAsync(this IUpstreams upstreams, Func<UpstreamCatalog, bool> condition, string what)
    {
        var found = new TaskCompletionSource<UpstreamCatalog>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(UpstreamCatalog catalog)
        {
            if (condition(catalog))
            {
                found.TrySetResult(catalog);
            }
        }

        upstreams.CatalogChanged += OnChanged;
        try
        {
            OnChanged(upstreams.Catalog);
            return await found.Task.WaitAsync(Patience);
        }
        catch (TimeoutException)
        {
            var entries = string.Join("; ", upstreams.Catalog.Upstreams.Values.Select(e => $"{e.Upstream}={e.State} ({e.LastError})"));
            throw new TimeoutException($"no catalog where {what} within {Patience}; last: {entries}");
        }
        finally
        {
            upstreams.CatalogChanged -= OnChanged;
        }
    }

    public static Task<UpstreamCatalog> WaitForReadyAsync(this IUpstreams upstreams, params string[] names) =>
        upstreams.WaitForCatalogAsync(
            c => names.All(n => c.Upstreams.TryGetValue(n, out var e) && e.State == UpstreamState.Ready),
            $"{string.Join(", ", names)} ready");

    public static Task<CallToolResult> CallAsync(this IUpstreams upstreams, string upstream, string tool, object? arguments = null, UpstreamCallContext? context = null, CancellationToken cancellationToken = default)
    {
        var dictionary = arguments is null
            ? null
            : JsonSerializer.SerializeToElement(arguments).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
        return upstreams.CallToolAsync(upstream, tool, dictionary, context ?? Peers.Context(), cancellationToken.CanBeCanceled ? cancellationToken : new CancellationTokenSource(Patience).Token);
    }

    /// <summary>Waits until the fixture has seen <paramref name="count"/> cancelled calls (notifications/cancelled is one-way, so this polls, bounded).</summary>
    public static async Task WaitForCancellationsAsync(this IUpstreams upstreams, string upstream, int count)
    {
        using var patience = new CancellationTokenSource(Patience);
        while (int.Parse((await upstreams.CallAsync(upstream, "cancellations")).Text(), System.Globalization.CultureInfo.InvariantCulture) < count)
        {
            patience.Token.ThrowIfCancellationRequested();
            await Task.Delay(20, CancellationToken.None);
        }
    }

    public static string Text(this CallToolResult result) =>
        string.Join("\n", result.Content.OfType<TextContentBlock>().Select(b => b.Text));

    public static Tool Tool(this UpstreamCatalog catalog, string upstream, string name) =>
        catalog.Upstreams[upstream].Tools.SingleOrDefault(t => t.Name == name)
        ?? throw new InvalidOperationException($"{upstream} has no tool {name}; it has {string.Join(", ", catalog.Upstreams[upstream].Tools.Select(t => t.Name))}");
}

/// <summary>An agent's side of proxied calls, recording what reaches it.</summary>
internal sealed class RecordingChannel(bool supportsElicitation = true, Func<ElicitRequestParams, ElicitResult>? answer = null) : IAgentChannel
{
    private readonly TaskCompletionSource<LoggingMessageNotificationParams> firstLog = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool SupportsElicitation => supportsElicitation;

    public ConcurrentQueue<LoggingMessageNotificationParams> Logs { get; } = new();

    public ConcurrentQueue<ElicitRequestParams> Elicitations { get; } = new();

    public Task<LoggingMessageNotificationParams> FirstLog => firstLog.Task;

    public ValueTask<ElicitResult> ElicitAsync(ElicitRequestParams request, CancellationToken cancellationToken)
    {
        Elicitations.Enqueue(request);
        return ValueTask.FromResult(answer?.Invoke(request) ?? new ElicitResult { Action = "cancel" });
    }

    public bool SupportsSampling => false;

    public ValueTask<CreateMessageResult> SampleAsync(CreateMessageRequestParams request, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("This test channel does not sample.");

    public ValueTask SendLogAsync(LoggingMessageNotificationParams message, CancellationToken cancellationToken)
    {
        Logs.Enqueue(message);
        firstLog.TrySetResult(message);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Records progress synchronously (Progress&lt;T&gt; would post to the thread pool and reorder) and lets a test await a count.</summary>
internal sealed class RecordingProgress : IProgress<ProgressNotificationValue>
{
    private readonly Lock gate = new();
    private readonly List<ProgressNotificationValue> values = [];
    private readonly List<(int Count, TaskCompletionSource Signal)> waiters = [];

    public IReadOnlyList<ProgressNotificationValue> Values
    {
        get
        {
            lock (gate)
            {
                return [.. values];
            }
        }
    }

    public void Report(ProgressNotificationValue value)
    {
        lock (gate)
        {
            values.Add(value);
            foreach (var (count, signal) in waiters.Where(w => values.Count >= w.Count))
            {
                signal.TrySetResult();
            }
        }
    }

    public Task WaitForAsync(int count)
    {
        lock (gate)
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (values.Count >= count)
            {
                signal.SetResult();
            }
            else
            {
                waiters.Add((count, signal));
            }

            return signal.Task.WaitAsync(PoolTestKit.Patience);
        }
    }
}

/// <summary>Keeps every log entry (message and exception text) at every level, for tests that inspect what was logged.</summary>
internal sealed class RecordingLoggerProvider : Microsoft.Extensions.Logging.ILoggerProvider
{
    public ConcurrentQueue<string> Entries { get; } = new();

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLoggerProvider owner, string category) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue($"{logLevel} {category} {eventId.Id}: {formatter(state, exception)} {exception}");
    }
}
