using System.Text.Json;
using ApprovalEngine.Activities;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Benchmarks;

/// <summary>One runtime node as the product builds it (generic host + runtime + approval activities), with runtime defaults.</summary>
public sealed class BenchNode : IAsyncDisposable
{
    private static readonly JsonElement Ok = JsonDocument.Parse("""{"ok":true}""").RootElement;

    private readonly IHost _host;

    private BenchNode(IHost host)
    {
        _host = host;
        Runtime = host.Services.GetRequiredService<WorkflowRuntime>();
        Hub = host.Services.GetRequiredService<WakeupHub>();
    }

    public WorkflowRuntime Runtime { get; }

    public WakeupHub Hub { get; }

    /// <summary>Start a node; <paramref name="invoke"/> runs approved calls (default: returns {"ok":true} at once).</summary>
    public static async Task<BenchNode> StartAsync(
        string connectionString,
        Action<WorkflowRuntimeOptions>? configure = null,
        Func<ToolInvocation, CancellationToken, Task<ActivityResult>>? invoke = null,
        CancellationToken ct = default)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddWorkflowRuntime(connectionString, configure);
        builder.Services.AddApprovalActivities();
        builder.Services.AddToolInvoker(invoke ?? ((_, _) => Task.FromResult(ActivityResult.Success(Ok))));
        var host = builder.Build();
        await host.StartAsync(ct);
        var node = new BenchNode(host);
        await node.WaitUntilListeningAsync(ct);
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _host.StopAsync(timeout.Token);
        _host.Dispose();
    }

    /// <summary>Wakeups from other nodes arrive only once the LISTEN connection is up.</summary>
    private async Task WaitUntilListeningAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (!Hub.Listening)
        {
            await Task.Delay(5, timeout.Token);
        }
    }
}
