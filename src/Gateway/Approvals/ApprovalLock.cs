using Npgsql;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>
/// A session-level PostgreSQL advisory lock on one approval, in one namespace (<c>slack</c>, <c>teams</c>), held on its
/// own connection: the card notifiers take it so that two notify tasks never both post a card, and an older state
/// never overwrites a newer one. Disposing releases the lock and the connection.
/// </summary>
internal sealed class ApprovalLock : IAsyncDisposable
{
    private const string LockSql = "SELECT pg_advisory_lock(hashtextextended($1 || ':' || $2::text, 0))";
    private const string UnlockSql = "SELECT pg_advisory_unlock(hashtextextended($1 || ':' || $2::text, 0))";

    private readonly string scope;

    private ApprovalLock(string scope, Guid approvalId, NpgsqlConnection connection)
    {
        this.scope = scope;
        ApprovalId = approvalId;
        Connection = connection;
    }

    public Guid ApprovalId { get; }

    /// <summary>The connection that holds the lock; run the work that needs it here.</summary>
    public NpgsqlConnection Connection { get; }

    public static async Task<ApprovalLock> AcquireAsync(NpgsqlDataSource dataSource, string scope, Guid approvalId, CancellationToken ct)
    {
        var connection = await dataSource.OpenConnectionAsync(ct);
        var held = new ApprovalLock(scope, approvalId, connection);
        try
        {
            await using var command = held.Command(LockSql);
            await command.ExecuteNonQueryAsync(ct);
            return held;
        }
        catch
        {
            // Closing a pooled connection does not end its session, so release the lock (if we got it) first.
            await held.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var unlock = Command(UnlockSql);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The lock may outlive us on this session: have the pool close its connections (this one included)
            // instead of reusing them, which ends the session and releases the lock. Rare, and costs a reconnect.
            NpgsqlConnection.ClearPool(Connection);
        }

        await Connection.DisposeAsync();
    }

    private NpgsqlCommand Command(string sql) => new(sql, Connection)
    {
        Parameters =
        {
            new NpgsqlParameter<string> { TypedValue = scope },
            new NpgsqlParameter<Guid> { TypedValue = ApprovalId },
        },
    };
}
