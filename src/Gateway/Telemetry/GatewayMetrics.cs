using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ApprovalEngine.Gateway.Telemetry;

/// <summary>The gateway's instruments, on a meter named <see cref="GatewayTelemetry.Name"/>. One per host.</summary>
public sealed class GatewayMetrics : IDisposable
{
    private readonly Counter<long> toolCalls;
    private readonly Histogram<double> toolCallDuration;
    private readonly Counter<long> upstreamErrors;

    public GatewayMetrics()
    {
        toolCalls = Meter.CreateCounter<long>("approval_engine.tool_calls", "{call}", "Agents' tool calls by policy decision and outcome");
        toolCallDuration = Meter.CreateHistogram<double>(
            "approval_engine.tool_call.duration", "s", "From an agent's tools/call to its answer, holds for approval included");
        upstreamErrors = Meter.CreateCounter<long>(
            "approval_engine.upstream.errors", "{error}", "Upstream tool calls that failed: unavailable, timed out, or a protocol error");
    }

    public Meter Meter { get; } = new(GatewayTelemetry.Name);

    /// <summary>Counts a finished agent call (every call ends in its audit record) and labels its span.</summary>
    internal void CallFinished(string decision, string outcome, string? rule, TimeSpan duration, Guid? approvalId)
    {
        var tags = new TagList { { "decision", decision }, { "outcome", outcome } };
        toolCalls.Add(1, tags);
        toolCallDuration.Record(duration.TotalSeconds, tags);
        GatewayTelemetry.LabelCall(decision, outcome, rule, approvalId);
    }

    /// <param name="kind"><c>timeout</c>, <c>unavailable</c> or <c>protocol</c>.</param>
    internal void UpstreamFailed(Activity? span, string upstream, string kind, string message)
    {
        upstreamErrors.Add(1, new TagList { { "approval_engine.upstream", upstream }, { "error.type", kind } });
        span?.SetStatus(ActivityStatusCode.Error, message);
        span?.SetTag("error.type", kind);
    }

    public void Dispose() => Meter.Dispose();
}
