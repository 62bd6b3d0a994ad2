using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using ApprovalEngine.Gateway.Telemetry;
using ApprovalEngine.Gateway.Tests.Approvals;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Tests.Telemetry;

/// <summary>The spans and instruments of a real gated call, seen by in-process listeners as an exporter would see them.</summary>
public sealed class TraceTests(GatedGateway peers) : IClassFixture<GatedGateway>
{
    [Fact]
    public async Task GatedCall_Approved_IsOneTraceFromTheAgentCallThroughTheWorkflowToTheUpstream()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is GatewayTelemetry.Name or WorkflowTelemetry.Name or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var measurements = new ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)>();
        using var meters = Listen(measurements, peers.Gateway.Get<GatewayMetrics>().Meter, peers.Gateway.Get<WorkflowMetrics>().Meter);

        await using var client = await peers.ConnectAsync(timeout.Token);
        var target = Path.Combine(peers.Sandbox, "traced.txt");
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "traced" }, cancellationToken: timeout.Token).AsTask();
        var pending = await peers.PendingAsync("traced.txt", timeout.Token);
        await peers.DecideAsync(pending.Id, "approve");
        Assert.NotEqual(true, (await call).IsError);

        var id = pending.Id.ToString();
        var agentCall = await SpanAsync(spans, s => s.OperationName == "tools/call fs__write_file" && Equals(s.GetTagItem("approval.id"), id), timeout.Token);
        var execute = await SpanAsync(spans, s => s.OperationName == "workflow.task execute" && Equals(s.GetTagItem("approval.id"), id), timeout.Token);
        var upstream = await SpanAsync(spans, s => s.OperationName == "upstream tools/call fs" && s.ParentSpanId == execute.SpanId, timeout.Token);
        var policy = await SpanAsync(spans, s => s.OperationName == "policy.evaluate" && s.ParentSpanId == agentCall.SpanId, timeout.Token);
        var hold = await SpanAsync(spans, s => s.OperationName == "approval.hold" && s.ParentSpanId == agentCall.SpanId, timeout.Token);
        var signal = await SpanAsync(spans, s => s.OperationName == "workflow.signal approve" && Equals(s.GetTagItem("approval.id"), id), timeout.Token);
        var server = Assert.Single(spans, s => s.SpanId == agentCall.ParentSpanId);

        // agent's HTTP request → tools/call → policy, hold → (task worker) execute → upstream call. (No notify task: the
        // ops group gets no Slack or Teams cards. Where there is one, its span is parented the same way, by the worker.)
        Assert.Equal("Microsoft.AspNetCore", server.Source.Name);
        Assert.Equal(ActivityKind.Server, server.Kind);
        Assert.All([policy, hold, execute, upstream], span => Assert.Equal(agentCall.TraceId, span.TraceId));
        Assert.Equal("approve", policy.GetTagItem("approval_engine.decision"));
        Assert.Equal(hold.SpanId, execute.ParentSpanId);
        Assert.DoesNotContain(spans, s => s.OperationName == "workflow.task notify" && Equals(s.GetTagItem("approval.id"), id));
        Assert.Equal(ActivityKind.Client, upstream.Kind);
        Assert.Equal(ActivityStatusCode.Unset, upstream.Status);
        Assert.Equal(("approve", "ok"), (agentCall.GetTagItem("approval_engine.decision"), agentCall.GetTagItem("approval_engine.outcome")));

        // The decision is made in the approver's own request, another trace, linked to the call's.
        Assert.NotEqual(agentCall.TraceId, signal.TraceId);
        Assert.Contains(signal.Links, link => link.Context.TraceId == agentCall.TraceId);
        Assert.Equal("approved", signal.GetTagItem("approval.status"));

        Assert.Contains(measurements, m => m is { Name: "approval_engine.tool_calls", Value: 1 } && Equals(m.Tags["decision"], "approve") && Equals(m.Tags["outcome"], "ok"));
        var decisionTime = Assert.Single(measurements, m => m.Name == "approval_engine.approval.decision_time");
        Assert.Equal("approved", decisionTime.Tags["approval.status"]);
        Assert.InRange(decisionTime.Value, 0, 60);
    }

    /// <summary>Records every measurement of the given meters (this host's, not other tests' hosts in the process).</summary>
    internal static MeterListener Listen(ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)> into, params Meter[] meters)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (meters.Contains(instrument.Meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => into.Enqueue((instrument.Name, value, new Dictionary<string, object?>(tags.ToArray()))));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => into.Enqueue((instrument.Name, value, new Dictionary<string, object?>(tags.ToArray()))));
        listener.Start();
        return listener;
    }

    private static async Task<Activity> SpanAsync(ConcurrentQueue<Activity> spans, Func<Activity, bool> match, CancellationToken cancellationToken)
    {
        // Task spans end just after the agent's answer; wait for them, boundedly.
        while (true)
        {
            if (spans.FirstOrDefault(match) is { } found)
            {
                return found;
            }

            await Task.Delay(20, cancellationToken);
        }
    }
}
