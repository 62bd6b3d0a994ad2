using ApprovalEngine.Workflows.Storage;
using Npgsql;

namespace ApprovalEngine.Benchmarks;

/// <summary>
/// The PostgreSQL the run measures: a local cluster with default (durable) settings started for the run, or an
/// existing server. Each phase gets a fresh database, so one phase's leftover tasks never load the next one.
/// </summary>
public sealed class BenchDatabase : IAsyncDisposable
{
    private readonly LocalPostgres? _cluster;
    private readonly string _connectionString;
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private readonly List<string> _created = [];

    private BenchDatabase(LocalPostgres? cluster, string connectionString)
    {
        _cluster = cluster;
        _connectionString = connectionString;
    }

    /// <summary>Where the run's databases live (never includes a password).</summary>
    public string Description => _cluster is null ? $"existing server {new NpgsqlConnectionStringBuilder(_connectionString).Host}" : "local cluster started for this run, default settings";

    /// <summary>The local cluster's postmaster, for the console (it is stopped by this pid at the end).</summary>
    public int? ClusterPid => _cluster?.Pid;

    /// <summary>A unique prefix for business keys and idempotency keys of this run.</summary>
    public string RunId => _runId;

    public static async Task<BenchDatabase> OpenAsync(string? connectionString, CancellationToken ct)
    {
        if (connectionString is not null)
        {
            return new BenchDatabase(null, connectionString);
        }

        // Defaults on purpose: fsync and synchronous_commit on, as in production.
        var cluster = await LocalPostgres.StartAsync(new LocalPostgresOptions(), ct: ct);
        return new BenchDatabase(cluster, cluster.ConnectionString);
    }

    /// <summary>Create a fresh database for one phase and return its connection string.</summary>
    public async Task<string> CreateAsync(string purpose, CancellationToken ct)
    {
        var name = $"bench_{_runId}_{purpose}";
        string connectionString;
        if (_cluster is { } cluster)
        {
            connectionString = await cluster.CreateDatabaseAsync(name, ct);
        }
        else
        {
            await using var connection = new NpgsqlConnection(_connectionString);
            await connection.OpenAsync(ct);

            // CREATE DATABASE takes no parameters; the name is ours (letters, digits, underscores).
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync(ct);
            connectionString = new NpgsqlConnectionStringBuilder(_connectionString) { Database = name }.ConnectionString;
        }

        _created.Add(name);
        return connectionString;
    }

    /// <summary>The server's version and durability settings, so a result is never read without them.</summary>
    public async Task<ServerInfo> DescribeAsync(CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes')",
            connection);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new ServerInfo(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3));
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_cluster is not null)
        {
            // Stopped by pid; its temporary data directory goes with it.
            await _cluster.DisposeAsync();
            return;
        }

        // On someone else's server, leave nothing behind.
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        foreach (var name in _created)
        {
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }
}

public sealed record ServerInfo(string Version, string Fsync, string SynchronousCommit, string FullPageWrites);
