using ApprovalEngine.Workflows.Storage;
using Npgsql;

namespace ApprovalEngine.Testing;

/// <summary>
/// One PostgreSQL cluster per test process, started on first use and stopped by pid when the process exits.
/// Each test (or test class) takes its own fresh database, so tests never see each other's rows.
/// </summary>
public static class TestPostgres
{
    // 63 bytes per identifier = prefix (up to 30, with a leading letter) + '_' + 32 hex digits.
    private const int MaxPrefixLength = 29;

    // Started off the first caller's synchronization context: the cluster outlives every test.
    private static readonly Lazy<Task<LocalPostgres>> Started = new(() => Task.Run(StartAsync), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The running cluster; only after <see cref="GetClusterAsync"/> (or a database) was awaited.</summary>
    public static LocalPostgres Cluster =>
        Started.IsValueCreated && Started.Value.IsCompletedSuccessfully
            ? Started.Value.Result
            : throw new InvalidOperationException($"The test cluster is not started yet: await {nameof(TestPostgres)}.{nameof(GetClusterAsync)}() first.");

    public static Task<LocalPostgres> GetClusterAsync() => Started.Value;

    /// <summary>A new database with a unique name (schema migrated when <paramref name="migrate"/>); returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string? prefix = null, bool migrate = true)
    {
        var cluster = await GetClusterAsync();
        var name = $"{Sanitize(prefix ?? "test")}_{Guid.NewGuid():N}";
        var connectionString = await cluster.CreateDatabaseAsync(name);
        if (migrate)
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await SchemaMigrator.MigrateAsync(dataSource);
        }

        return connectionString;
    }

    /// <summary>The same database as the superuser postgres (what the trust-authenticated cluster already uses).</summary>
    public static string SuperuserConnectionString(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Username = "postgres", Password = null }.ConnectionString;

    private static async Task<LocalPostgres> StartAsync()
    {
        var cluster = await LocalPostgres.StartAsync(new LocalPostgresOptions { Fsync = false });
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return cluster;
    }

    private static string Sanitize(string prefix)
    {
        var chars = prefix.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').Take(MaxPrefixLength).ToArray();
        var sanitized = new string(chars);
        return sanitized.Length == 0 || char.IsAsciiDigit(sanitized[0]) ? "t" + sanitized : sanitized;
    }
}
