using System.Text.Json.Serialization;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Gateway.Health;

/// <summary>
/// What <c>/readyz</c> answers: <c>ready</c>; <c>degraded</c> (still 200) when an upstream is not ready, which fails
/// only that upstream's calls; or <c>unavailable</c> (503) with a short reason. Upstreams are listed with their state
/// only: the probe is unauthenticated, and people see the errors in <c>/api/status</c>.
/// </summary>
public sealed record ReadinessReport(
    string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string>? Upstreams = null)
{
    public static ReadinessReport Ready { get; } = new("ready");

    [JsonIgnore]
    public bool IsReady => Status != "unavailable";

    public static ReadinessReport Unavailable(string reason) => new("unavailable", reason);
}

/// <summary>
/// Ready means this node can do its work: it is not shutting down, the database answers a query, and the wakeup
/// listener is connected. Each configured upstream's state is reported; one that is not ready degrades the node
/// without taking it out of service. A database outage is an answer (503), never an exception. Changes of
/// readiness are logged once, not every probe.
/// </summary>
public sealed partial class ReadinessProbe(
    NpgsqlDataSource dataSource, WakeupHub hub, IUpstreams upstreams, LiveConfiguration config, IHostApplicationLifetime lifetime, ILogger<ReadinessProbe> logger)
{
    private static readonly TimeSpan DatabaseTimeout = TimeSpan.FromSeconds(3);

    // 0 unknown, 1 ready, 2 unavailable, 3 degraded.
    private int _last;

    public async Task<ReadinessReport> CheckAsync(CancellationToken cancellationToken)
    {
        var report = lifetime.ApplicationStopping.IsCancellationRequested
            ? ReadinessReport.Unavailable("the node is shutting down")
            : await CheckDatabaseAsync(cancellationToken)
                ?? (hub.Listening ? WithUpstreams() : ReadinessReport.Unavailable("the workflow wakeup listener is not connected"));
        var state = report.Status switch { "ready" => 1, "unavailable" => 2, _ => 3 };
        if (Interlocked.Exchange(ref _last, state) != state)
        {
            switch (state)
            {
                case 1:
                    LogReady();
                    break;
                case 2:
                    LogUnavailable(report.Reason!);
                    break;
                default:
                    LogDegraded(report.Reason!);
                    break;
            }
        }

        return report;
    }

    private ReadinessReport WithUpstreams()
    {
        var catalog = upstreams.Catalog;
        var states = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in config.Current.Config.Upstreams.Keys)
        {
            states[name] = catalog.Upstreams.TryGetValue(name, out var entry) ? UpstreamStates.Name(entry.State) : UpstreamStates.Name(UpstreamState.Connecting);
        }

        var notReady = states.Where(pair => pair.Value != UpstreamStates.Name(UpstreamState.Ready)).Select(pair => $"{pair.Key} ({pair.Value})").ToList();
        return notReady.Count == 0
            ? ReadinessReport.Ready with { Upstreams = states }
            : new ReadinessReport("degraded", $"upstreams not ready: {string.Join(", ", notReady)}", states);
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

    [LoggerMessage(3013, LogLevel.Warning, "Node is degraded: {Reason}")]
    private partial void LogDegraded(string reason);

    [LoggerMessage(3012, LogLevel.Debug, "Readiness check of the database failed")]
    private partial void LogDatabaseFailed(Exception exception);
}
