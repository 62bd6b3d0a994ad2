using System.Text.Json;
using ApprovalEngine.Activities;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Testing;

/// <summary>One runtime node (a generic host with the workflow runtime and the approval activities) on a test database.</summary>
public sealed class TestNode : IAsyncDisposable
{
    private TestNode(IHost host)
    {
        Host = host;
        Runtime = host.Services.GetRequiredService<WorkflowRuntime>();
        Reaper = host.Services.GetRequiredService<TaskReaper>();
        Hub = host.Services.GetRequiredService<WakeupHub>();
    }

    public IHost Host { get; }
    public WorkflowRuntime Runtime { get; }
    public TaskReaper Reaper { get; }
    public WakeupHub Hub { get; }

    /// <summary>
    /// Start a node. Defaults suit tests: short lease, fast poll, a reaper that runs only when the test calls it
    /// (unless <paramref name="configure"/> says otherwise), and a tool invoker that returns {"ok":true}.
    /// </summary>
    public static async Task<TestNode> StartAsync(
        string connectionString,
        Action<WorkflowRuntimeOptions>? configure = null,
        Func<ToolInvocation, CancellationToken, Task<ActivityResult>>? invoke = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddWorkflowRuntime(connectionString, o =>
        {
            o.LeaseDuration = TimeSpan.FromSeconds(2);
            o.PollInterval = TimeSpan.FromMilliseconds(200);
            o.ReaperInterval = TimeSpan.FromHours(1);
            configure?.Invoke(o);
        });
        builder.Services.AddApprovalActivities();
        builder.Services.AddToolInvoker(invoke ?? ((_, _) => Task.FromResult(ActivityResult.Success(Json("""{"ok":true}""")))));
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        return new TestNode(host);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Host.StopAsync(timeout.Token);
        Host.Dispose();
    }

    public static JsonElement Json(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}

/// <summary>Approval requests for tests.</summary>
public static class TestRequests
{
    public static ApprovalRequest Create(
        IReadOnlyList<string>? approvers = null,
        int quorum = 1,
        TimeSpan? timeout = null,
        string? owner = "owner@example.com",
        bool idempotent = false,
        ApproverStage? escalateTo = null,
        string tool = "write_file",
        string arguments = """{"path":"/tmp/x","content":"hello"}""") => new()
        {
            AgentId = "agent-1",
            AgentOwner = owner,
            Bundle = "default",
            Upstream = "filesystem",
            Tool = tool,
            Arguments = TestNode.Json(arguments),
            ArgumentsDigest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(arguments))),
            Rule = "writes-need-approval",
            Reason = "writes change files",
            Approvers = new ApproverStage
            {
                Group = "ops",
                Approvers = approvers ?? ["alice@example.com", "bob@example.com", "carol@example.com"],
                Timeout = timeout ?? TimeSpan.FromMinutes(10),
            },
            Quorum = quorum,
            EscalateTo = escalateTo,
            ToolIdempotent = idempotent,
        };
}
