using ApprovalEngine.Testing;

namespace ApprovalEngine.Workflows.Tests.Storage;

// The shared test clock lives beside the shared test cluster (ApprovalEngine.Testing); its tests live here with the cluster's.
public sealed class ManualTimeProviderTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Advance_ShortOfDueTime_DoesNotCompleteDelay()
    {
        var time = new ManualTimeProvider(Start);
        var delay = Task.Delay(TimeSpan.FromSeconds(5), time);

        time.Advance(TimeSpan.FromMilliseconds(4999));

        Assert.False(delay.IsCompleted);
        Assert.Equal(Start.AddMilliseconds(4999), time.GetUtcNow());
    }

    [Fact]
    public async Task Advance_ToDueTime_CompletesDelay()
    {
        var time = new ManualTimeProvider(Start);
        var delay = Task.Delay(TimeSpan.FromSeconds(5), time);

        time.Advance(TimeSpan.FromSeconds(5));

        await delay.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, time.ActiveTimerCount);
    }

    [Fact]
    public void Advance_PastSeveralTimers_FiresEachInDueOrderAtItsDueTime()
    {
        var time = new ManualTimeProvider(Start);
        var fired = new List<(string Name, DateTimeOffset At)>();
        using var late = time.CreateTimer(_ => fired.Add(("late", time.GetUtcNow())), null, TimeSpan.FromSeconds(2), Timeout.InfiniteTimeSpan);
        using var early = time.CreateTimer(_ => fired.Add(("early", time.GetUtcNow())), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);

        time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal([("early", Start.AddSeconds(1)), ("late", Start.AddSeconds(2))], fired);
        Assert.Equal(Start.AddSeconds(10), time.GetUtcNow());
    }

    [Fact]
    public void Advance_PeriodicTimer_FiresOncePerElapsedPeriod()
    {
        var time = new ManualTimeProvider(Start);
        var ticks = 0;
        using var timer = time.CreateTimer(_ => ticks++, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        time.Advance(TimeSpan.FromSeconds(3.5));

        Assert.Equal(3, ticks);
        Assert.Equal(1, time.ActiveTimerCount);
    }

    [Fact]
    public async Task Advance_PeriodicTimerFromBcl_CompletesTick()
    {
        var time = new ManualTimeProvider(Start);
        using var periodic = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        var tick = periodic.WaitForNextTickAsync().AsTask();

        time.Advance(TimeSpan.FromMinutes(1));

        Assert.True(await tick.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Advance_CancellationTokenSourceWithTimeout_Cancels()
    {
        var time = new ManualTimeProvider(Start);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30), time);

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(cts.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.True(cts.IsCancellationRequested);
    }

    [Fact]
    public void Dispose_ScheduledTimer_NeverFires()
    {
        var time = new ManualTimeProvider(Start);
        var fired = false;
        var timer = time.CreateTimer(_ => fired = true, null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);

        timer.Dispose();
        time.Advance(TimeSpan.FromSeconds(2));

        Assert.False(fired);
        Assert.False(timer.Change(TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void SetUtcNow_Forward_FiresDueTimers()
    {
        var time = new ManualTimeProvider(Start);
        var fired = false;
        using var timer = time.CreateTimer(_ => fired = true, null, TimeSpan.FromHours(1), Timeout.InfiniteTimeSpan);

        time.SetUtcNow(Start.AddHours(2));

        Assert.True(fired);
        Assert.Equal(Start.AddHours(2), time.GetUtcNow());
    }

    [Fact]
    public void SetUtcNow_Backward_MovesWallClockOnly()
    {
        var time = new ManualTimeProvider(Start);
        var fired = false;
        using var timer = time.CreateTimer(_ => fired = true, null, TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan);
        var before = time.GetTimestamp();

        time.SetUtcNow(Start.AddMinutes(-5));
        time.Advance(TimeSpan.FromSeconds(9));

        Assert.False(fired);
        Assert.Equal(Start.AddMinutes(-5).AddSeconds(9), time.GetUtcNow());
        Assert.Equal(TimeSpan.FromSeconds(9), time.GetElapsedTime(before));
    }
}
