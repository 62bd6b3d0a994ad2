using Npgsql;

namespace ApprovalEngine.Benchmarks.Gated;

/// <summary>Rows and bytes on disk (indexes and TOAST included) of one table.</summary>
public readonly record struct TableSize(long Rows, long Bytes);

/// <summary>What the benchmark reads from the gateways' database: the runtime's tables, its transaction count, pending approvals.</summary>
public sealed class GatedDatabase(string connectionString) : IAsyncDisposable
{
    /// <summary>The tables a gated call writes to: the workflow, its history, its tasks (timers, notifications), and the audit.</summary>
    public static readonly IReadOnlyList<string> Tables = ["wf_instance", "wf_event", "wf_task", "wf_signal", "tool_call_audit"];

    private static readonly string SizesSql = string.Join(
        " UNION ALL ", Tables.Select(t => $"SELECT '{t}', (SELECT count(*) FROM {t}), pg_total_relation_size('{t}')"));

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public async Task<Dictionary<string, TableSize>> SizesAsync(CancellationToken ct)
    {
        var sizes = new Dictionary<string, TableSize>(StringComparer.Ordinal);
        await using var cmd = _dataSource.CreateCommand(SizesSql);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            sizes[reader.GetString(0)] = new TableSize(reader.GetInt64(1), reader.GetInt64(2));
        }

        return sizes;
    }

    /// <summary>Transactions committed or rolled back in this database so far (PostgreSQL's statistics, flushed about once a second).</summary>
    public async Task<long> TransactionsAsync(CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()");
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    public async Task<long> PendingAsync(CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT count(*) FROM wf_instance WHERE state = 'pending'");
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
