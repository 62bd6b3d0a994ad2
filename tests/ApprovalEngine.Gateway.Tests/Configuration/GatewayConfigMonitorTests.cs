using System.Collections.Concurrent;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Testing;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Tests.Configuration;

public sealed class GatewayConfigMonitorTests : IDisposable
{
    private const string Secret = "tok-52be1d-very-secret";
    private const string Valid = "upstreams:\n  fs: {type: stdio, command: npx}\n";
    private const string ValidChanged = "upstreams:\n  fs: {type: stdio, command: node}\n";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly ConfigTestFiles files = new();
    private readonly ManualTimeProvider time = new();
    private readonly ListLogger logger = new();
    private readonly Dictionary<string, string> environment = new() { ["TOKEN"] = Secret };

    public void Dispose() => files.Dispose();

    [Fact]
    public void Constructor_InvalidFile_ThrowsWithEveryError()
    {
        files.Write("upstreams:\n  fs: {type: stdio}\n  api: {type: http}\n");

        var exception = Assert.Throws<GatewayConfigException>(() => CreateMonitor());

        Assert.Equal(2, exception.Errors.Count);
        Assert.Contains("upstreams.fs.command", exception.Message, StringComparison.Ordinal);
        Assert.Contains("upstreams.api.url", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Poll_ValidChange_RaisesChangedWithTheNewConfiguration()
    {
        files.Write(Valid);
        using var monitor = CreateMonitor();
        var changed = new TaskCompletionSource<GatewayConfig>(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.Changed += config => changed.TrySetResult(config);
        await monitor.StartAsync(CancellationToken.None);

        files.Write(ValidChanged);
        var config = await AdvanceUntil(changed.Task, GatewayConfigMonitor.PollInterval);

        Assert.Equal("node", config.Upstreams["fs"].Command);
        Assert.Same(config, monitor.Current);
        Assert.Empty(monitor.LastErrors);
    }

    [Fact]
    public async Task Poll_InvalidChange_KeepsTheOldConfigurationAndRecordsTheErrorsWithoutSecrets()
    {
        files.Write(Valid);
        using var monitor = CreateMonitor();
        var original = monitor.Current;
        var raised = 0;
        monitor.Changed += _ => Interlocked.Increment(ref raised);
        await monitor.StartAsync(CancellationToken.None);

        files.Write("upstreams:\n  fs: {type: stdio, command: npx, cwd: 5s, timeout: \"${env:TOKEN}\"}\n  api: {type: http}\n");
        await AdvanceUntil(() => monitor.LastErrors.Count > 0, GatewayConfigMonitor.PollInterval);

        Assert.Same(original, monitor.Current);
        Assert.Equal(0, Volatile.Read(ref raised));
        Assert.Equal(["upstreams.fs.timeout", "upstreams.api.url"], monitor.LastErrors.Select(e => e.Field));
        Assert.Contains(logger.Messages, m => m.Contains("upstreams.api.url", StringComparison.Ordinal));
        Assert.DoesNotContain(logger.Messages, m => m.Contains(Secret, StringComparison.Ordinal));
        Assert.DoesNotContain(monitor.LastErrors, e => e.ToString().Contains(Secret, StringComparison.Ordinal));

        // Fixing the file applies it and clears the errors.
        var changed = new TaskCompletionSource<GatewayConfig>(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.Changed += config => changed.TrySetResult(config);
        files.Write(ValidChanged);
        var fixedConfig = await AdvanceUntil(changed.Task, GatewayConfigMonitor.PollInterval);

        Assert.Equal("node", fixedConfig.Upstreams["fs"].Command);
        Assert.Empty(monitor.LastErrors);
    }

    [Fact]
    public async Task Watcher_FileWritten_ReloadsAfterTheDebounceWithoutWaitingForThePoll()
    {
        files.Write(Valid);
        using var monitor = CreateMonitor();
        var changed = new TaskCompletionSource<GatewayConfig>(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.Changed += config => changed.TrySetResult(config);
        await monitor.StartAsync(CancellationToken.None);
        var timersBefore = time.ActiveTimerCount;

        files.Write(ValidChanged);

        // The watcher arms the debounce timer; firing only that (well before the poll) applies the change.
        await WaitUntil(() => time.ActiveTimerCount > timersBefore);
        time.Advance(GatewayConfigMonitor.DebounceDelay);
        var config = await changed.Task.WaitAsync(Deadline);
        Assert.Equal("node", config.Upstreams["fs"].Command);
    }

    [Fact]
    public void Reload_UnchangedContent_DoesNotRaiseChanged()
    {
        files.Write(Valid);
        using var monitor = CreateMonitor();
        var raised = 0;
        monitor.Changed += _ => raised++;

        files.Write(Valid);

        Assert.False(monitor.Reload());
        Assert.Equal(0, raised);
    }

    [Fact]
    public void Reload_FileDeleted_KeepsTheConfigurationAndReportsOnce()
    {
        files.Write(Valid);
        using var monitor = CreateMonitor();
        var original = monitor.Current;

        File.Delete(files.ConfigPath);
        Assert.False(monitor.Reload());
        Assert.False(monitor.Reload());

        Assert.Same(original, monitor.Current);
        Assert.Contains("does not exist", Assert.Single(monitor.LastErrors).Message, StringComparison.Ordinal);
        Assert.Single(logger.Messages, m => m.Contains("does not exist", StringComparison.Ordinal));

        files.Write(Valid);
        Assert.True(monitor.Reload());
        Assert.Empty(monitor.LastErrors);
    }

    private GatewayConfigMonitor CreateMonitor() =>
        new(files.ConfigPath, time, logger, name => environment.GetValueOrDefault(name));

    private async Task<T> AdvanceUntil<T>(Task<T> task, TimeSpan step)
    {
        await AdvanceUntil(() => task.IsCompleted, step);
        return await task;
    }

    private async Task AdvanceUntil(Func<bool> condition, TimeSpan step)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition was not met before the deadline.");
            time.Advance(step);
            await Task.Delay(20);
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition was not met before the deadline.");
            await Task.Delay(20);
        }
    }

    private sealed class ListLogger : ILogger<GatewayConfigMonitor>
    {
        private readonly ConcurrentQueue<string> messages = new();

        public IReadOnlyCollection<string> Messages => messages;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            messages.Enqueue(formatter(state, exception));
    }
}
