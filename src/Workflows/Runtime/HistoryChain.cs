using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>
/// Reads history and recomputes hash chains independently of the database trigger that wrote them, so a row
/// changed behind the trigger's back (for example by a superuser with triggers disabled) is detected.
/// </summary>
internal static class HistoryChain
{
    private const string HistorySql = """
        SELECT seq, type, body, actor, recorded_at, prev_hash, hash FROM wf_event WHERE wf_id = $1 ORDER BY seq
        """;

    private const string AllSql = """
        SELECT e.wf_id, e.seq, e.type, e.body, e.actor, e.recorded_at, e.prev_hash, e.hash, i.version
        FROM wf_instance i JOIN wf_event e ON e.wf_id = i.id
        WHERE ($1::timestamptz IS NULL OR i.created_at >= $1) AND ($2::timestamptz IS NULL OR i.created_at < $2)
        ORDER BY e.wf_id, e.seq
        """;

    public static async Task<IReadOnlyList<HistoryEntry>> ReadAsync(NpgsqlDataSource dataSource, Guid workflowId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(HistorySql);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = workflowId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var entries = new List<HistoryEntry>();
        while (await reader.ReadAsync(ct))
        {
            entries.Add(ReadEntry(reader, workflowId, 0));
        }

        return entries;
    }

    // From the instance, so a workflow without a single event still answers (with its version), and in one statement,
    // so the version and the events come from the same snapshot.
    private const string VerifiedSql = """
        SELECT e.seq, e.type, e.body, e.actor, e.recorded_at, e.prev_hash, e.hash, i.version
        FROM wf_instance i LEFT JOIN wf_event e ON e.wf_id = i.id
        WHERE i.id = $1
        ORDER BY e.seq
        """;

    /// <summary>The workflow's history and its chain check from one read; null when there is no such workflow.</summary>
    public static async Task<VerifiedHistory?> ReadVerifiedAsync(NpgsqlDataSource dataSource, Guid workflowId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(VerifiedSql);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = workflowId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var entries = new List<HistoryEntry>();
        int? version = null;
        while (await reader.ReadAsync(ct))
        {
            version = reader.GetInt32(7);
            if (!reader.IsDBNull(0))
            {
                entries.Add(ReadEntry(reader, workflowId, 0));
            }
        }

        return version is { } v ? new VerifiedHistory(entries, Verify(workflowId, v, entries)) : null;
    }

    public static async Task<ChainVerification> VerifyAsync(NpgsqlDataSource dataSource, Guid workflowId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT version FROM wf_instance WHERE id = $1");
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = workflowId });
        var version = await cmd.ExecuteScalarAsync(ct) as int? ?? throw new WorkflowNotFoundException(workflowId);
        return Verify(workflowId, version, await ReadAsync(dataSource, workflowId, ct));
    }

    public static async IAsyncEnumerable<ChainVerification> VerifyAllAsync(
        NpgsqlDataSource dataSource, DateTimeOffset? from, DateTimeOffset? before, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand(AllSql, connection);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)from ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)before ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        await using var reader = await cmd.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, ct);
        var chain = new List<HistoryEntry>();
        var current = Guid.Empty;
        var version = 0;
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetGuid(0);
            if (id != current && chain.Count > 0)
            {
                yield return Verify(current, version, chain);
                chain.Clear();
            }

            current = id;
            chain.Add(ReadEntry(reader, id, 1));
            version = reader.GetInt32(8);
        }

        if (chain.Count > 0)
        {
            yield return Verify(current, version, chain);
        }
    }

    /// <summary>The chain's rule; the SQL function wf_event_hash in the migrations computes the same bytes.</summary>
    internal static byte[] ComputeHash(byte[] prevHash, Guid workflowId, int seq, string type, string body, string actor, DateTimeOffset recordedAt)
    {
        Span<byte> buffer = stackalloc byte[32 + 16 + 4 + (32 * 3) + 8];
        prevHash.CopyTo(buffer);
        workflowId.TryWriteBytes(buffer[32..], bigEndian: true, out _);
        BinaryPrimitives.WriteInt32BigEndian(buffer[48..], seq);
        SHA256.HashData(Encoding.UTF8.GetBytes(type), buffer[52..]);
        SHA256.HashData(Encoding.UTF8.GetBytes(body), buffer[84..]);
        SHA256.HashData(Encoding.UTF8.GetBytes(actor), buffer[116..]);
        BinaryPrimitives.WriteInt64BigEndian(buffer[148..], (recordedAt.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10);
        return SHA256.HashData(buffer);
    }

    internal static byte[] Genesis(Guid workflowId)
    {
        Span<byte> id = stackalloc byte[16];
        workflowId.TryWriteBytes(id, bigEndian: true, out _);
        return SHA256.HashData(id);
    }

    private static ChainVerification Verify(Guid workflowId, int version, IReadOnlyList<HistoryEntry> chain)
    {
        var prev = Genesis(workflowId);
        for (var i = 0; i < chain.Count; i++)
        {
            var e = chain[i];
            if (e.Seq != i + 1)
            {
                return new(workflowId, false, chain.Count, i + 1, $"event {i + 1} is missing (found {e.Seq})");
            }

            if (!e.PrevHash.AsSpan().SequenceEqual(prev))
            {
                return new(workflowId, false, chain.Count, e.Seq, $"event {e.Seq} does not link to event {e.Seq - 1}");
            }

            var expected = ComputeHash(prev, workflowId, e.Seq, e.Type, e.Body, e.Actor, e.RecordedAt);
            if (!e.Hash.AsSpan().SequenceEqual(expected))
            {
                return new(workflowId, false, chain.Count, e.Seq, $"event {e.Seq} was altered: its content does not match its hash");
            }

            prev = e.Hash;
        }

        return chain.Count == version
            ? new(workflowId, true, chain.Count, null, null)
            : new(workflowId, false, chain.Count, chain.Count + 1, $"the workflow is at version {version} but its history has {chain.Count} events");
    }

    private static HistoryEntry ReadEntry(NpgsqlDataReader reader, Guid workflowId, int offset)
    {
        return new HistoryEntry(
            workflowId,
            reader.GetInt32(offset),
            reader.GetString(offset + 1),
            reader.GetString(offset + 2),
            reader.GetString(offset + 3),
            reader.GetFieldValue<DateTimeOffset>(offset + 4),
            reader.GetFieldValue<byte[]>(offset + 5),
            reader.GetFieldValue<byte[]>(offset + 6));
    }
}
