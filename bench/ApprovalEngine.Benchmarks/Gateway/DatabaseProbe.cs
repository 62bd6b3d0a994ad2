using System.Diagnostics;
using Npgsql;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>What the benchmark asks the gateway's database: the WAL position, and the audit rows after the run.</summary>
public sealed class DatabaseProbe(string connectionString) : IAsyncDisposable
{
    // The audit lands in a table of the gateway's schema; the name is looked up rather than assumed, so the check
    // follows the schema. A table named like this and holding one row per tools/call is what the check expects.
    private const string AuditTablesSql = """
        SELECT table_schema || '.' || table_name FROM information_schema.tables
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE' AND table_name LIKE '%audit%'
        ORDER BY (table_name = 'audit_tool_call') DESC, table_name
        """;

    private const string AllTablesSql = """
        SELECT table_name FROM information_schema.tables
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE' ORDER BY table_name
        """;

    private static readonly TimeSpan AuditWait = TimeSpan.FromSeconds(5);

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    /// <summary>Bytes of WAL written so far (cluster-wide): the difference over a segment shows whether calls write anything.</summary>
    public async Task<long> WalPositionAsync(CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint");
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// Counts the rows of the audit table; waits up to 5 s for them to reach <paramref name="expected"/> (a gateway
    /// may write the audit behind the answer). No audit table: the result says so and lists the tables there are.
    /// </summary>
    public async Task<AuditCount> CountAuditAsync(long expected, CancellationToken ct)
    {
        var tables = await ListAsync(AuditTablesSql, ct);
        if (tables.Count == 0)
        {
            return new AuditCount(null, null, expected, await ListAsync(AllTablesSql, ct));
        }

        // The name comes from the catalog, quoted part by part.
        var table = tables[0];
        var quoted = string.Join('.', table.Split('.').Select(part => $"\"{part.Replace("\"", "\"\"", StringComparison.Ordinal)}\""));
        await using var cmd = _dataSource.CreateCommand($"SELECT count(*) FROM {quoted}");
        var waiting = Stopwatch.StartNew();
        long rows;
        while ((rows = (long)(await cmd.ExecuteScalarAsync(ct))!) < expected && waiting.Elapsed < AuditWait)
        {
            await Task.Delay(100, ct);
        }

        return new AuditCount(table, rows, expected, tables);
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <summary>
    /// Durable single-row commits on this cluster, in a database of their own (prepared INSERTs, one transaction each):
    /// the least a call costs if the gateway waits for its own audit commit.
    /// </summary>
    public static async Task<LoadResult> RawCommitsAsync(string connectionString, int connections, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var create = dataSource.CreateCommand("CREATE TABLE IF NOT EXISTS bench_commit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v bigint NOT NULL)"))
        {
            await create.ExecuteNonQueryAsync(ct);
        }

        var opened = new List<NpgsqlConnection>();
        var commands = new List<NpgsqlCommand>();
        try
        {
            for (var i = 0; i < connections; i++)
            {
                var connection = await dataSource.OpenConnectionAsync(ct);
                opened.Add(connection);
                var command = new NpgsqlCommand("INSERT INTO bench_commit (v) VALUES ($1)", connection) { Parameters = { new NpgsqlParameter<long> { TypedValue = i } } };
                await command.PrepareAsync(ct);
                commands.Add(command);
            }

            async Task<bool> Insert(int client, CancellationToken token)
            {
                await commands[client].ExecuteNonQueryAsync(token);
                return true;
            }

            await Load.RunAsync(connections, warmup, Insert, ct);
            return await Load.RunAsync(connections, duration, Insert, ct);
        }
        finally
        {
            foreach (var command in commands)
            {
                await command.DisposeAsync();
            }

            foreach (var connection in opened)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private async Task<List<string>> ListAsync(string sql, CancellationToken ct)
    {
        var names = new List<string>();
        await using var cmd = _dataSource.CreateCommand(sql);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }
}

/// <summary>The audit table found (null: none), its rows, and how many the gateway's tools/call requests should have left.</summary>
public sealed record AuditCount(string? Table, long? Rows, long Expected, IReadOnlyList<string> Tables)
{
    public bool Matches => Rows == Expected;
}
