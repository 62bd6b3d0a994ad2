using ApprovalEngine.Gateway.Audit;
using Npgsql;

namespace ApprovalEngine.Gateway.Database;

/// <summary>
/// Whether this node's database is known to be unreachable, so that calls which could not be audited are refused
/// before they reach an upstream instead of running unaudited. It learns from failures the gateway meets anyway (an
/// audit batch that could not be written, an approval that could not be started), never from a query per call: while
/// the database is up, <see cref="IsDown"/> is one volatile read. Once down, a probe asks the database every
/// <see cref="ProbeInterval"/> until it answers; only the probe marks it up again, so a late success of a request that
/// began before the outage cannot end it early.
/// </summary>
public sealed partial class DatabaseAvailability(NpgsqlDataSource dataSource, TimeProvider time, ILogger<DatabaseAvailability> logger) : BackgroundService
{
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

    private readonly Lock gate = new();

    // Released (at most once, count 0 or 1) when the database is marked down: the probe loop waits on it while all is well.
    private readonly SemaphoreSlim marked = new(0, 1);
    private volatile DatabaseOutage? outage;
    private long outages;

    /// <summary>True from the first failure that shows the database cannot be reached until a probe reaches it again.</summary>
    public bool IsDown => outage is not null;

    /// <summary>The outage in progress, or null.</summary>
    public DatabaseOutage? Outage => outage;

    /// <summary>Outages seen since the node started.</summary>
    public long OutageCount => Interlocked.Read(ref outages);

    /// <summary>
    /// Marks the database down when <paramref name="exception"/> says it cannot be reached (a refused or broken
    /// connection, a timeout, a server shutting down), and returns whether it did. Errors about the request itself
    /// (a constraint, a bad statement) say nothing about availability and are ignored.
    /// </summary>
    public bool ReportFailure(Exception exception)
    {
        if (Cause(exception) is not { } cause)
        {
            return false;
        }

        lock (gate)
        {
            if (outage is not null)
            {
                return true;
            }

            outage = new DatabaseOutage(cause, time.GetUtcNow(), time.GetTimestamp());
            Interlocked.Increment(ref outages);
            if (marked.CurrentCount == 0)
            {
                marked.Release();
            }
        }

        LogDown(cause, exception);

        // Idle pooled connections died with the server; without this each would fail one request after it returns.
        dataSource.Clear();
        return true;
    }

    /// <summary>What about <paramref name="exception"/> shows the database unreachable, or null when it does not.</summary>
    internal static string? Cause(Exception exception) => exception switch
    {
        ToolCallAuditException { InnerException: { } inner } => Cause(inner) ?? (inner is OperationCanceledException ? "the database did not answer in time" : null),
        PostgresException p => IsUnavailableState(p.SqlState) ? $"the server refused the session ({p.SqlState})" : null,
        NpgsqlException { InnerException: TimeoutException } => "the database did not answer in time",
        NpgsqlException => "the database could not be reached",
        TimeoutException => "the database did not answer in time",
        _ => null,
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                await marked.WaitAsync(stoppingToken);
                using var timer = new PeriodicTimer(ProbeInterval, time);
                while (outage is { } current && await timer.WaitForNextTickAsync(stoppingToken))
                {
                    if (await ProbeAsync(stoppingToken))
                    {
                        MarkUp(current);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The node stops.
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        marked.Dispose();
    }

    // Connection exceptions (08), the server shutting down or starting (57P01-57P03), too many connections (53300).
    private static bool IsUnavailableState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState is "57P01" or "57P02" or "57P03" or "53300";

    private async Task<bool> ProbeAsync(CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException || (e is OperationCanceledException && !stoppingToken.IsCancellationRequested))
        {
            LogProbeFailed(e);
            return false;
        }
    }

    private void MarkUp(DatabaseOutage ended)
    {
        lock (gate)
        {
            if (!ReferenceEquals(outage, ended))
            {
                return;
            }

            outage = null;
        }

        // Connections opened during the outage may have reached the old server's last moments; start afresh.
        dataSource.Clear();
        LogUp(time.GetElapsedTime(ended.SinceTimestamp));
    }

    [LoggerMessage(3150, LogLevel.Error, "The database is unavailable ({Cause}): tool calls are refused before they run until it answers again")]
    private partial void LogDown(string cause, Exception exception);

    [LoggerMessage(3151, LogLevel.Information, "The database answers again after {Duration}: tool calls run again")]
    private partial void LogUp(TimeSpan duration);

    [LoggerMessage(3152, LogLevel.Debug, "The database still does not answer")]
    private partial void LogProbeFailed(Exception exception);
}

/// <summary>A database outage as this node saw it: why it was marked down, and since when.</summary>
public sealed record DatabaseOutage(string Cause, DateTimeOffset Since, long SinceTimestamp);
