using System.Diagnostics;

namespace ApprovalEngine.Gateway.Telemetry;

/// <summary>
/// The gateway's spans and instruments. An agent's call is one trace: the HTTP request, <c>tools/call</c>, the policy
/// evaluation, the approval hold, and (in the workflow's tasks, on whichever node runs them) the notification and
/// the upstream call. Instruments are in <see cref="GatewayMetrics"/>; <see cref="TelemetryHosting"/> exports both over
/// OTLP when an endpoint is configured.
/// </summary>
public static class GatewayTelemetry
{
    public const string Name = "ApprovalEngine.Gateway";

    internal static readonly ActivitySource Source = new(Name);
    /// <summary>An agent's <c>tools/call</c>; ended when the answer is ready.</summary>
    internal static Activity? StartToolCall(string agent, string toolName)
    {
        var span = Source.StartActivity("tools/call " + toolName);
        span?.SetTag("mcp.method.name", "tools/call");
        span?.SetTag("gen_ai.tool.name", toolName);
        span?.SetTag("approval_engine.agent", agent);
        return span;
    }

    internal static Activity? StartPolicy() => Source.StartActivity("policy.evaluate");

    internal static Activity? StartApproval(string operation) => Source.StartActivity("approval." + operation);

    /// <summary>A call to an upstream's tool (a client span: the upstream is another service).</summary>
    internal static Activity? StartUpstreamCall(string upstream, string tool)
    {
        var span = Source.StartActivity($"upstream tools/call {upstream}", ActivityKind.Client);
        span?.SetTag("approval_engine.upstream", upstream);
        span?.SetTag("gen_ai.tool.name", tool);
        return span;
    }

    /// <summary>Labels a finished agent call's span (when it is the current one).</summary>
    internal static void LabelCall(string decision, string outcome, string? rule, Guid? approvalId)
    {
        if (Activity.Current is { } span && span.Source == Source && span.OperationName.StartsWith("tools/call ", StringComparison.Ordinal))
        {
            span.SetTag("approval_engine.decision", decision);
            span.SetTag("approval_engine.outcome", outcome);
            span.SetTag("approval_engine.rule", rule);
            span.SetTag("approval.id", approvalId?.ToString());
            if (outcome is not "ok")
            {
                span.SetStatus(ActivityStatusCode.Error, outcome);
            }
        }
    }
}
