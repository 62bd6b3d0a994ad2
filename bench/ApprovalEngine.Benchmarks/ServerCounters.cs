using Npgsql;

namespace ApprovalEngine.Benchmarks;

/// <summary>
/// Cumulative server counters of one database: committed transactions (reads included) and WAL flushes (cluster-wide).
/// Backends publish them at most once a second, so a difference over a multi-second window is approximate.
/// </summary>
public sealed record ServerCounters(long Commits, long WalSyncs)
{
    private const string Sql = """
        SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
               (SELECT wal_sync FROM pg_stat_wal)
        """;

    public static async Task<ServerCounters> ReadAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(Sql, connection);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new ServerCounters(reader.GetInt64(0), reader.GetInt64(1));
    }

    public static ServerCounters operator -(ServerCounters after, ServerCounters before) =>
        new(after.Commits - before.Commits, after.WalSyncs - before.WalSyncs);
}
