using Npgsql;

namespace ApprovalEngine.Benchmarks.SessionLoad;

/// <summary>The most server connections to one database seen while load runs (pg_stat_activity, once a second, this watcher's own not counted).</summary>
public sealed class ConnectionWatch : IAsyncDisposable
{
    private const string CountSql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";

    private readonly CancellationTokenSource _stop = new();
    private readonly Task<int> _watching;

    public ConnectionWatch(string connectionString) => _watching = Task.Run(() => WatchAsync(connectionString, _stop.Token));

    public async Task<int> StopAsync()
    {
        await _stop.CancelAsync();
        return await _watching;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _stop.Dispose();
    }

    private static async Task<int> WatchAsync(string connectionString, CancellationToken stop)
    {
        var peak = 0;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(stop);
        await using var command = new NpgsqlCommand(CountSql, connection);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            do
            {
                peak = Math.Max(peak, (int)(long)(await command.ExecuteScalarAsync(stop))!);
            }
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped: the peak so far is the answer.
        }

        return peak;
    }
}
