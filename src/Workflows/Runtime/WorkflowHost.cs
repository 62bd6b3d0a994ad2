using ApprovalEngine.Workflows.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>Runs one node's background parts: migrations at start, the wakeup listener, the gauges, the task worker and the reaper.</summary>
internal sealed partial class WorkflowHost(
    NpgsqlDataSource dataSource, WakeupHub hub, TaskWorker worker, TaskReaper reaper, IOptions<WorkflowRuntimeOptions> options, WorkflowMetrics metrics, TimeProvider time, ILogger<WorkflowHost> logger)
    : IHostedService
{
    // Not disposed: they own no timers, and a host may call StopAsync again after disposing its services.
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly Lock _gate = new();
    private Task _loops = Task.CompletedTask;
    private Task? _stopped;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.MigrateOnStart)
        {
            await SchemaMigrator.MigrateAsync(dataSource, logger, cancellationToken);
        }

        var gauges = new WorkflowGauges(dataSource, metrics, settings.MetricsInterval, time, logger);
        var loops = new List<Task> { hub.RunAsync(_stopping.Token), gauges.RunAsync(_stopping.Token) };
        if (settings.RunWorker)
        {
            loops.Add(worker.RunAsync(_stopping.Token, _abort.Token));
            loops.Add(reaper.RunAsync(_stopping.Token));
        }

        _loops = Task.WhenAll(loops);
        LogStarted(settings.NodeId, settings.RunWorker);
    }

    /// <summary>Idempotent: a second call (test hosts stop twice) waits for the first.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _stopped ??= StopOnceAsync(cancellationToken);
        }
    }

    private async Task StopOnceAsync(CancellationToken cancellationToken)
    {
        // Stop claiming; let running tasks finish until the host's shutdown timeout, then cancel them.
        await _stopping.CancelAsync();
        try
        {
            await _loops.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await _abort.CancelAsync();
            await _loops;
        }
    }

    [LoggerMessage(1180, LogLevel.Information, "Workflow runtime node {NodeId} started (worker: {RunWorker})")]
    private partial void LogStarted(string nodeId, bool runWorker);
}

internal sealed class WorkflowRuntimeOptionsValidator : IValidateOptions<WorkflowRuntimeOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkflowRuntimeOptions options)
    {
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => $"WorkflowRuntime: {e}"));
    }
}
