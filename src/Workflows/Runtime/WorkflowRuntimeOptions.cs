namespace ApprovalEngine.Workflows.Runtime;

/// <summary>Settings of one runtime node. Every time value here is a duration; instants come from the database clock.</summary>
public sealed record WorkflowRuntimeOptions
{
    /// <summary>Identifies this node in task leases (for operators; fencing uses random lease tokens).</summary>
    public string NodeId { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>How long a claimed task stays ours without a heartbeat. Heartbeats run every third of it.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Safety-net poll for tasks and awaited workflows, in case a NOTIFY was lost. <see cref="Timeout.InfiniteTimeSpan"/> disables it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often this node looks for tasks whose lease expired (any node may do it).</summary>
    public TimeSpan ReaperInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Tasks this node runs at once.</summary>
    public int MaxConcurrency { get; set; } = 32;

    /// <summary>Tasks claimed in one round trip.</summary>
    public int ClaimBatchSize { get; set; } = 16;

    /// <summary>Run the task worker and reaper on this node. API-only nodes can turn it off.</summary>
    public bool RunWorker { get; set; } = true;

    /// <summary>Apply schema migrations when the node starts.</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>How often the gauges (pending approvals, task queue depth and lag) are read from the database, while something listens to them.</summary>
    public TimeSpan MetricsInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Retry policy of the built-in deadline timer.</summary>
    public ActivityOptions TimerOptions { get; set; } = new() { MaxAttempts = 100 };

    internal IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (LeaseDuration < TimeSpan.FromMilliseconds(300))
        {
            errors.Add($"{nameof(LeaseDuration)} must be at least 300 ms (was {LeaseDuration}).");
        }

        if (PollInterval <= TimeSpan.Zero && PollInterval != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"{nameof(PollInterval)} must be positive or Timeout.InfiniteTimeSpan (was {PollInterval}).");
        }

        if (ReaperInterval <= TimeSpan.Zero)
        {
            errors.Add($"{nameof(ReaperInterval)} must be positive (was {ReaperInterval}).");
        }

        if (MetricsInterval <= TimeSpan.Zero)
        {
            errors.Add($"{nameof(MetricsInterval)} must be positive (was {MetricsInterval}).");
        }

        if (MaxConcurrency < 1)
        {
            errors.Add($"{nameof(MaxConcurrency)} must be at least 1 (was {MaxConcurrency}).");
        }

        if (ClaimBatchSize < 1)
        {
            errors.Add($"{nameof(ClaimBatchSize)} must be at least 1 (was {ClaimBatchSize}).");
        }

        if (string.IsNullOrWhiteSpace(NodeId))
        {
            errors.Add($"{nameof(NodeId)} must not be empty.");
        }

        return errors;
    }
}
