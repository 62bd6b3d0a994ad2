using Microsoft.Extensions.Logging;
using Npgsql;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>
/// Reads the runtime's gauges (pending approvals, due tasks, the oldest due task's wait) with one query every
/// <see cref="WorkflowRuntimeOptions.MetricsInterval"/>, and only while a metrics listener is subscribed. The values
/// are the deployment's, not this node's: every node reports the same, so dashboards take the maximum.
/// </summary>
internal sealed partial class WorkflowGauges(NpgsqlDataSource dataSource, WorkflowMetrics metrics, TimeSpan interval, TimeProvider time, ILogger logger)
{
    private const string Sql = """
        SELECT (SELECT count(*) FROM wf_instance WHERE state IN ('pending', 'escalated')),
               count(*),
               coalesce(extract(epoch FROM now() - min(run_at)), 0)::float8
        FROM wf_task WHERE state = 'ready' AND run_at <= now()
        """;

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            do
            {
                if (!metrics.GaugesListened)
                {
                    continue;
                }

                try
                {
                    await using var command = dataSource.CreateCommand(Sql);
                    await using var reader = await command.ExecuteReaderAsync(stoppingToken);
                    await reader.ReadAsync(stoppingToken);
                    metrics.Publish(new WorkflowGaugeValues(reader.GetInt64(0), reader.GetInt64(1), reader.GetDouble(2)));
                }
                catch (NpgsqlException e)
                {
                    // The gauges keep their last values; readiness reports the outage.
                    LogReadFailed(e);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(1185, LogLevel.Warning, "The workflow gauges could not be read from the database")]
    private partial void LogReadFailed(Exception exception);
}
