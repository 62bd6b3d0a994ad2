using System.Collections.Concurrent;
using System.Text.Json;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Tests.Telemetry;

/// <summary>The real gateway exporting over OTLP/HTTP protobuf to a collector on loopback.</summary>
public sealed class OtlpExportTests : IAsyncLifetime
{
    private FakeCollector collector = null!;
    private McpGateway gateway = null!;
    private string sandbox = null!;

    public async Task InitializeAsync()
    {
        collector = await FakeCollector.StartAsync();
        var directory = Path.Combine(Path.GetTempPath(), "ae-otlp-" + Guid.NewGuid().ToString("N")[..12]);
        sandbox = Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(sandbox);
        var filesystem = NodePeers.ServerFilesystem(sandbox);
        gateway = await McpGateway.StartAsync($$"""
            upstreams:
              fs:
                type: stdio
                command: {{filesystem.FileName}}
                args: {{JsonSerializer.Serialize(filesystem.Arguments)}}
            agents:
              agent: {owner: owner@example.com, keys: ["{key:agent}"]}
            bundles:
              files: {upstreams: [fs], agents: [agent]}
            approvers:
              ops: {members: [ops@example.com]}
            policy:
              default: read-only
              approvers: [ops]
              approval: {timeout: 1h, hold: 60s}
            """,
            directory: directory,
            settings:
            [
                ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.Endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_SERVICE_NAME", "approval-engine-otlp-test"),
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
                ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
                ("ApprovalEngine:Runtime:MetricsInterval", "00:00:00.200"),
            ]);
    }

    public async Task DisposeAsync()
    {
        await gateway.DisposeAsync();
        await collector.DisposeAsync();
    }

    [Fact]
    public async Task AllowedCall_IsExportedAsSpansAndMetrics()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await AgentClients.ConnectAsync(gateway.Url("files"), gateway.KeyOf("agent"), "fs__list_allowed_directories", timeout.Token);

        await client.CallToolAsync("fs__list_allowed_directories", cancellationToken: timeout.Token);

        var call = await UntilAsync(() => collector.Spans.FirstOrDefault(s => s.Name == "tools/call fs__list_allowed_directories"), timeout.Token);
        var upstream = await UntilAsync(() => collector.Spans.FirstOrDefault(s => s.Name == "upstream tools/call fs" && s.TraceId == call.TraceId), timeout.Token);
        var policy = await UntilAsync(() => collector.Spans.FirstOrDefault(s => s.Name == "policy.evaluate" && s.ParentSpanId == call.SpanId), timeout.Token);
        Assert.Equal("approval-engine-otlp-test", call.Service);
        Assert.Equal(32, call.TraceId.Length);
        Assert.Equal(call.SpanId, upstream.ParentSpanId);
        Assert.Equal(3, upstream.Kind);
        Assert.Equal(call.TraceId, policy.TraceId);

        // The server span of the agent's request is the call's parent.
        await UntilAsync(() => collector.Spans.FirstOrDefault(s => s.SpanId == call.ParentSpanId && s.Kind == 2), timeout.Token);

        foreach (var name in new[] { "approval_engine.tool_calls", "approval_engine.tool_call.duration", "approval_engine.approvals.pending", "approval_engine.tasks.queue_depth", "approval_engine.tasks.lag" })
        {
            await UntilAsync(() => collector.MetricNames.ContainsKey(name) ? name : null, timeout.Token);
        }
    }

    [Fact]
    public async Task HeldCall_PendingApprovalsGauge_CountsIt()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var measurements = new ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)>();
        using var listener = TraceTests.Listen(measurements, gateway.Get<WorkflowMetrics>().Meter);
        await using var client = await AgentClients.ConnectAsync(gateway.Url("files"), gateway.KeyOf("agent"), "fs__write_file", timeout.Token);

        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = Path.Combine(sandbox, "held.txt"), ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        await UntilAsync(() =>
        {
            listener.RecordObservableInstruments();
            return measurements.Any(m => m is { Name: "approval_engine.approvals.pending", Value: >= 1 }) ? "counted" : null;
        }, timeout.Token);

        var pending = (await gateway.Get<WorkflowRuntime>().QueryAsync(new WorkflowQuery { AgentId = "agent" }, timeout.Token)).Items.Single();
        await gateway.Get<WorkflowRuntime>().SignalAsync(pending.Id, new SignalRequest(SignalNames.Deny, "deny-1", "ops@example.com", null), timeout.Token);
        Assert.True((await call).IsError);
        Assert.Contains(measurements, m => m.Name == "approval_engine.tasks.queue_depth");
    }

    private static async Task<T> UntilAsync<T>(Func<T?> probe, CancellationToken cancellationToken)
        where T : class
    {
        while (true)
        {
            if (probe() is { } found)
            {
                return found;
            }

            await Task.Delay(50, cancellationToken);
        }
    }
}
