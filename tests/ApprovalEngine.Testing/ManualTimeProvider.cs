namespace ApprovalEngine.Testing;

/// <summary>
/// A clock that moves only when a test says so. Timers created through it (Task.Delay, PeriodicTimer,
/// CancellationTokenSource with a TimeProvider) fire, in due order and on the caller's thread, when
/// <see cref="Advance"/> passes their due time; nothing ever sleeps.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock gate = new();
    private readonly List<ManualTimer> scheduled = [];
    private DateTimeOffset utcNow;

    // Timers and timestamps follow this monotonic clock, so moving the wall clock back does not re-arm them.
    private TimeSpan elapsed;
    private long sequence;

    public ManualTimeProvider()
        : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public ManualTimeProvider(DateTimeOffset start) => utcNow = start.ToUniversalTime();

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>How many timers are waiting to fire: lets a test wait until a background loop is parked.</summary>
    public int ActiveTimerCount
    {
        get
        {
            lock (gate)
            {
                return scheduled.Count;
            }
        }
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (gate)
        {
            return utcNow;
        }
    }

    public override long GetTimestamp()
    {
        lock (gate)
        {
            return elapsed.Ticks;
        }
    }

    /// <summary>Moves the clock forward, firing every timer that falls due on the way (at its due time).</summary>
    public void Advance(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        TimeSpan target;
        lock (gate)
        {
            target = elapsed + delta;
        }

        while (true)
        {
            ManualTimer? next;
            lock (gate)
            {
                next = scheduled.Where(t => t.DueAt <= target).OrderBy(t => t.DueAt).ThenBy(t => t.Sequence).FirstOrDefault();
                if (next is null)
                {
                    MoveTo(target);
                    return;
                }

                MoveTo(next.DueAt);
                scheduled.Remove(next);
                if (next.Period > TimeSpan.Zero)
                {
                    next.DueAt += next.Period;
                    next.Sequence = ++sequence;
                    scheduled.Add(next);
                }
            }

            // Outside the lock: a callback may create, change or dispose timers, or read the clock.
            next.Fire();
        }
    }

    /// <summary>
    /// Sets the wall clock. Forward behaves as <see cref="Advance"/>; backward moves only the wall clock,
    /// as a real clock step would, and fires nothing.
    /// </summary>
    public void SetUtcNow(DateTimeOffset value)
    {
        TimeSpan forward;
        lock (gate)
        {
            forward = value - utcNow;
            if (forward < TimeSpan.Zero)
            {
                utcNow = value.ToUniversalTime();
                return;
            }
        }

        Advance(forward);
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private void MoveTo(TimeSpan target)
    {
        // A nested Advance from a callback may already be further along.
        if (target > elapsed)
        {
            utcNow += target - elapsed;
            elapsed = target;
        }
    }

    private bool Schedule(ManualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        ValidateInterval(dueTime, nameof(dueTime));
        ValidateInterval(period, nameof(period));
        lock (gate)
        {
            if (timer.Disposed)
            {
                return false;
            }

            scheduled.Remove(timer);
            if (dueTime != Timeout.InfiniteTimeSpan)
            {
                // A due time of zero fires on the next Advance (even Advance(TimeSpan.Zero)), never inside this call.
                timer.DueAt = elapsed + dueTime;
                timer.Period = period == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : period;
                timer.Sequence = ++sequence;
                scheduled.Add(timer);
            }

            return true;
        }
    }

    private void Remove(ManualTimer timer)
    {
        lock (gate)
        {
            timer.Disposed = true;
            scheduled.Remove(timer);
        }
    }

    private static void ValidateInterval(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be non-negative or Timeout.InfiniteTimeSpan.");
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public TimeSpan DueAt { get; set; }

        public TimeSpan Period { get; set; }

        public long Sequence { get; set; }

        public bool Disposed { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period) => owner.Schedule(this, dueTime, period);

        public void Fire() => callback(state);

        public void Dispose() => owner.Remove(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
