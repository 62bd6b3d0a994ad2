using System.Text.Json.Serialization;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Gateway.Health;

/// <summary>What <c>/readyz</c> answers: <c>ready</c>, or <c>unavailable</c> with a short reason.</summary>
public sealed record ReadinessReport(string Status, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason = null)
{
    public static ReadinessReport Ready { get; } = new("ready");

    [JsonIgnore]
    public bool IsReady => Reason is null;

    public static ReadinessReport Unavailable(string reason) => new("unavailable", reason);
}

/// <summary>
/// Ready means this node can do its work: the database answers a query and the wakeup listener is connected.
/// A database outage is an answer (503), never an exception. Changes of readiness are logged once, not every probe.
/// </summary>
public sealed partial class ReadinessProbe(NpgsqlDataSource dataSource, WakeupHub hub, ILogger<ReadinessProbe> logger)
{
    private static readonly TimeSpan DatabaseTimeout = TimeSpan.FromSeconds(3);

    // 0 unknown, 1 ready, 2 unavailable.
    private int _last;

    public async Task<ReadinessReport> CheckAsync(CancellationToken cancellationToken)
    {
        var report = await CheckDatabaseAsync(cancellationToken)
            ?? (hub.Listening ? ReadinessReport.Ready : ReadinessReport.Unavailable("the workflow wakeup listener is not connected"));
        var state = report.IsReady ? 1 : 2;
        if (Interlocked.Exchange(ref _last, state) != state)
        {
            if (report.IsReady)
            {
                LogReady();
            }
            else
            {
                LogUnavailable(report.Reason!);
            }
        }

        return report;
    }

    private async Task<ReadinessReport?> CheckDatabaseAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DatabaseTimeout);
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ReadinessReport.Unavailable($"the database did not answer within {DatabaseTimeout.TotalSeconds:0} s");
        }
        catch (PostgresException e)
        {
            LogDatabaseFailed(e);
            return ReadinessReport.Unavailable($"the database refused the check ({e.SqlState})");
        }
        catch (NpgsqlException e)
        {
            // The reason stays generic (the probe is unauthenticated); the log has the details.
            LogDatabaseFailed(e);
            return ReadinessReport.Unavailable("the database is unreachable");
        }
    }

    [LoggerMessage(3010, LogLevel.Information, "Node is ready")]
    private partial void LogReady();

    [LoggerMessage(3011, LogLevel.Warning, "Node is not ready: {Reason}")]
    private partial void LogUnavailable(string reason);

    [LoggerMessage(3012, LogLevel.Debug, "Readiness check of the database failed")]
    private partial void LogDatabaseFailed(Exception exception);
}
