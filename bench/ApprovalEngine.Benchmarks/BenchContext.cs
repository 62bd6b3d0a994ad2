using System.Collections.Concurrent;

namespace ApprovalEngine.Benchmarks;

/// <summary>What the phases share: settings, the database, the report, and the workflows phase 1 leaves pending for phase 2.</summary>
public sealed class BenchContext(BenchSettings settings, BenchDatabase database, Report report)
{
    private readonly Dictionary<string, string> _databases = [];
    private long _sequence;

    public BenchSettings Settings => settings;

    public Report Report => report;

    /// <summary>Pending workflows of the "api" database, started (and not decided) by earlier phases.</summary>
    public ConcurrentQueue<Guid> Pending { get; } = new();

    /// <summary>Start rates measured by phase 1 (1 client, N clients), to size phase 2's supply of pending workflows.</summary>
    public (double One, double Many)? StartRates { get; set; }

    /// <summary>The database for <paramref name="purpose"/>, created on first use; phases with the same purpose share it.</summary>
    public async Task<string> DatabaseAsync(string purpose, CancellationToken ct)
    {
        if (!_databases.TryGetValue(purpose, out var connectionString))
        {
            connectionString = await database.CreateAsync(purpose, ct);
            _databases[purpose] = connectionString;
        }

        return connectionString;
    }

    /// <summary>A key unique across runs and nodes (business keys, idempotency keys).</summary>
    public string NextKey(string kind) => $"bench-{database.RunId}-{kind}-{Interlocked.Increment(ref _sequence)}";
}
