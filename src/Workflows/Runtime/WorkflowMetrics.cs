using System.Diagnostics;
using System.Diagnostics.Metrics;
using ApprovalEngine.Workflows.Approval;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>
/// The runtime's instruments, on a meter named <see cref="WorkflowTelemetry.Name"/> that any listener (OpenTelemetry,
/// dotnet-counters) can subscribe to. One per runtime (a test process may host several).
/// </summary>
public sealed class WorkflowMetrics : IDisposable
{
    private readonly Histogram<double> decisionTime;
    private readonly ObservableGauge<long> pendingApprovals;
    private readonly ObservableGauge<long> queueDepth;
    private readonly ObservableGauge<double> lag;
    private WorkflowGaugeValues gauges = new(0, 0, 0);

    public WorkflowMetrics()
    {
        decisionTime = Meter.CreateHistogram<double>(
            "approval_engine.approval.decision_time", "s", "From the approval's creation to a person's final decision (approved, denied or withdrawn)");
        pendingApprovals = Meter.CreateObservableGauge("approval_engine.approvals.pending", () => Volatile.Read(ref gauges).PendingApprovals, "{approval}",
            "Approvals waiting for a decision (pending or escalated), across every node");
        queueDepth = Meter.CreateObservableGauge("approval_engine.tasks.queue_depth", () => Volatile.Read(ref gauges).DueTasks, "{task}",
            "Tasks due and not yet claimed by a worker, across every node");
        lag = Meter.CreateObservableGauge("approval_engine.tasks.lag", () => Volatile.Read(ref gauges).LagSeconds, "s",
            "How long the oldest due task has waited for a worker");
    }

    public Meter Meter { get; } = new(WorkflowTelemetry.Name);

    /// <summary>Whether a listener observes any gauge: otherwise nobody reads them, and the database is not asked.</summary>
    internal bool GaugesListened => pendingApprovals.Enabled || queueDepth.Enabled || lag.Enabled;

    /// <summary>The gauges' values, read from the database by <see cref="WorkflowGauges"/>.</summary>
    internal void Publish(WorkflowGaugeValues values) => Volatile.Write(ref gauges, values);

    /// <summary>A signal was applied: label its span, link it to the asking call's trace, and time a final decision.</summary>
    internal void Decided(Activity? span, ApprovalState before, ApprovalState after)
    {
        WorkflowTelemetry.Label(span, after);
        if (before.IsOpen && !after.IsOpen && after.DecidedAt is { } decidedAt)
        {
            decisionTime.Record((decidedAt - after.CreatedAt).TotalSeconds, new KeyValuePair<string, object?>("approval.status", ApprovalMachine.StatusName(after.Status)));
        }
    }

    public void Dispose() => Meter.Dispose();
}

internal sealed record WorkflowGaugeValues(long PendingApprovals, long DueTasks, double LagSeconds);
