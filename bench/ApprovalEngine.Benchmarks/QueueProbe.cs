using Npgsql;

namespace ApprovalEngine.Benchmarks;

/// <summary>
/// Read-only look at the runtime's task table, so latency samples start on a quiet node (as a human decision,
/// seconds after the request, would) instead of racing the previous sample's notify tasks.
/// </summary>
public sealed class QueueProbe(string connectionString) : IAsyncDisposable
{
    private const string BusySql = "SELECT EXISTS (SELECT 1 FROM wf_task WHERE state = 'running' OR (state = 'ready' AND run_at <= now()))";

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public async Task WaitUntilIdleAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await using var cmd = _dataSource.CreateCommand(BusySql);
        while ((bool)(await cmd.ExecuteScalarAsync(timeout.Token))!)
        {
            await Task.Delay(1, timeout.Token);
        }
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
