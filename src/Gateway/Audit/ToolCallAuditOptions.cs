using System.Globalization;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>How the tool-call audit writer batches and how long it waits.</summary>
public sealed record ToolCallAuditOptions
{
    /// <summary>Most records one transaction writes; whatever waits beyond it goes in the next.</summary>
    public int MaxBatchSize { get; set; } = 512;

    /// <summary>Records waiting for the writer; past this, appends wait for room (backpressure, never drop).</summary>
    public int QueueCapacity { get; set; } = 16_384;

    /// <summary>How long one batch may take before its callers are told it failed.</summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>On host stop, how long queued records may take to be written before the rest are failed.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Names this process in the stream table, for operators reading a verification report.</summary>
    public string Node { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";

    internal IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxBatchSize is < 1 or > 10_000)
        {
            errors.Add($"{nameof(MaxBatchSize)} must be between 1 and 10000 (was {MaxBatchSize}).");
        }

        if (QueueCapacity < MaxBatchSize)
        {
            errors.Add($"{nameof(QueueCapacity)} must be at least {nameof(MaxBatchSize)} (was {QueueCapacity}).");
        }

        if (WriteTimeout < TimeSpan.FromMilliseconds(100))
        {
            errors.Add($"{nameof(WriteTimeout)} must be at least 100 ms (was {WriteTimeout}).");
        }

        if (DrainTimeout < TimeSpan.Zero)
        {
            errors.Add($"{nameof(DrainTimeout)} must not be negative (was {DrainTimeout}).");
        }

        if (string.IsNullOrWhiteSpace(Node))
        {
            errors.Add($"{nameof(Node)} must not be empty.");
        }

        return errors;
    }
}
