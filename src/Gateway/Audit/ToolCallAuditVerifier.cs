using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>What is wrong at a place in an audit chain stream.</summary>
public enum AuditProblemKind
{
    /// <summary>A record's content no longer matches its hash: it was changed after it was written.</summary>
    Modified,

    /// <summary>Records are absent from the stream: deleted (a gap, or the newest ones per the stream head).</summary>
    Missing,

    /// <summary>A record does not link to the one before it: that one was replaced, or this one was re-linked.</summary>
    Unlinked,

    /// <summary>The stream head (last seq and hash) disagrees with the newest record, or a stream has records but no head.</summary>
    HeadMismatch,
}

/// <summary>One problem: seq <see cref="Seq"/> through <see cref="ThroughSeq"/> (equal for a single record).</summary>
public sealed record AuditChainProblem(long Seq, long ThroughSeq, AuditProblemKind Kind, string Detail);

/// <summary>The result for one chain stream; <see cref="Problems"/> holds the first ones when there are very many.</summary>
public sealed record AuditStreamVerification(
    Guid StreamId, string? Node, bool Valid, long Records, long? FirstSeq, long? LastSeq, int ProblemCount, IReadOnlyList<AuditChainProblem> Problems);

/// <summary>
/// Recomputes every audit chain stream from the stored rows, independently of the writer, and reports each record that
/// was changed, deleted or re-linked, by stream and seq. Rows and stream heads are read in one snapshot, so writers
/// running meanwhile cause no false reports.
/// </summary>
public sealed class ToolCallAuditVerifier(NpgsqlDataSource dataSource)
{
    private const int MaxProblemsListed = 100;

    private const string HeadsSql = "SELECT stream_id, node, last_seq, head_hash FROM tool_call_audit_stream";

    private const string AllRowsSql = $"SELECT {ToolCallAuditStore.Columns} FROM tool_call_audit ORDER BY stream_id, seq";

    // A time range selects, per stream, the seq span of its records that started in the range, and verifies that whole
    // span: start times are not in seq order (records are appended when calls end), but every seq between is checked.
    private const string RangeRowsSql = $"""
        WITH w AS (
            SELECT stream_id, min(seq) AS lo, max(seq) AS hi FROM tool_call_audit
            WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2)
            GROUP BY stream_id)
        SELECT {ToolCallAuditStore.Columns} FROM tool_call_audit JOIN w USING (stream_id)
        WHERE seq BETWEEN w.lo AND w.hi
        ORDER BY stream_id, seq
        """;

    /// <summary>
    /// Verifies every stream, or with a range the records that started in [<paramref name="from"/>, <paramref name="to"/>)
    /// (and every seq between them). Stream heads are checked unless <paramref name="to"/> is set: a bounded range
    /// does not reach the newest records.
    /// </summary>
    public async IAsyncEnumerable<AuditStreamVerification> VerifyAsync(
        DateTimeOffset? from = null, DateTimeOffset? to = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var ranged = from is not null || to is not null;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var snapshot = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        var heads = await ReadHeadsAsync(connection, snapshot, cancellationToken);

        await using var command = new NpgsqlCommand(ranged ? RangeRowsSql : AllRowsSql, connection, snapshot) { CommandTimeout = 0 };
        if (ranged)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)from ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)to ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        }

        var seen = new HashSet<Guid>();
        var checkHeads = to is null;
        await using (var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken))
        {
            StreamCheck? current = null;
            while (await reader.ReadAsync(cancellationToken))
            {
                var row = ToolCallAuditStore.ReadEntry(reader);
                if (current is null || current.StreamId != row.Entry.StreamId)
                {
                    if (current is not null)
                    {
                        yield return current.Finish(checkHeads);
                    }

                    heads.TryGetValue(row.Entry.StreamId, out var head);
                    current = new StreamCheck(row.Entry.StreamId, head, fromStart: !ranged);
                    seen.Add(row.Entry.StreamId);
                }

                current.Add(row);
            }

            if (current is not null)
            {
                yield return current.Finish(checkHeads);
            }
        }

        // A head without a single row: the whole stream was deleted. Only a full check can tell.
        if (!ranged)
        {
            foreach (var head in heads.Values.Where(h => !seen.Contains(h.StreamId)).OrderBy(h => h.StreamId))
            {
                yield return new StreamCheck(head.StreamId, head, fromStart: true).Finish(checkHeads: true);
            }
        }

        await snapshot.CommitAsync(cancellationToken);
    }

    private static async Task<Dictionary<Guid, StreamHead>> ReadHeadsAsync(NpgsqlConnection connection, NpgsqlTransaction snapshot, CancellationToken ct)
    {
        var heads = new Dictionary<Guid, StreamHead>();
        await using var command = new NpgsqlCommand(HeadsSql, connection, snapshot) { CommandTimeout = 0 };
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetGuid(0);
            heads[id] = new StreamHead(id, reader.GetString(1), reader.GetInt64(2), reader.GetFieldValue<byte[]>(3));
        }

        return heads;
    }

    private sealed record StreamHead(Guid StreamId, string Node, long LastSeq, byte[] Hash);

    /// <summary>Walks one stream's rows in seq order, keeping only the previous hash: memory does not grow with the stream.</summary>
    private sealed class StreamCheck(Guid streamId, StreamHead? head, bool fromStart)
    {
        private readonly List<AuditChainProblem> _problems = [];
        private int _problemCount;
        private long _records;
        private long? _first;
        private long _next = 1;
        private byte[]? _prevHash;

        public Guid StreamId { get; } = streamId;

        public void Add(StoredRecord row)
        {
            var entry = row.Entry;
            if (_first is null)
            {
                _first = entry.Seq;
                if (fromStart || entry.Seq == 1)
                {
                    _prevHash = ToolCallAuditChain.Genesis(StreamId);
                }
                else
                {
                    // A range starting mid-stream: the link to the record before it is outside the range.
                    _next = entry.Seq;
                    _prevHash = row.PrevHash;
                }
            }

            if (entry.Seq > _next)
            {
                Report(_next, entry.Seq - 1, AuditProblemKind.Missing, entry.Seq - _next == 1
                    ? $"record {_next} is missing (deleted)"
                    : $"records {_next} to {entry.Seq - 1} are missing (deleted)");
            }
            else if (!row.PrevHash.AsSpan().SequenceEqual(_prevHash))
            {
                Report(entry.Seq, entry.Seq, AuditProblemKind.Unlinked,
                    $"record {entry.Seq} does not link to record {entry.Seq - 1} (one of them was replaced)");
            }

            var expected = ToolCallAuditChain.ComputeHash(row.PrevHash, StreamId, entry.Seq, entry.Id, entry.Record);
            if (!row.Hash.AsSpan().SequenceEqual(expected))
            {
                Report(entry.Seq, entry.Seq, AuditProblemKind.Modified, $"record {entry.Seq} was altered: its content does not match its hash");
            }

            _prevHash = row.Hash;
            _next = entry.Seq + 1;
            _records++;
        }

        public AuditStreamVerification Finish(bool checkHeads)
        {
            var last = _records == 0 ? (long?)null : _next - 1;
            if (checkHeads)
            {
                if (head is null)
                {
                    Report(_first ?? 1, last ?? 1, AuditProblemKind.HeadMismatch, "the stream has records but no head row (it was deleted)");
                }
                else if (head.LastSeq > (last ?? 0))
                {
                    var from = (last ?? 0) + 1;
                    Report(from, head.LastSeq, AuditProblemKind.Missing, from == head.LastSeq
                        ? $"record {from}, the newest per the stream head, is missing (deleted)"
                        : $"records {from} to {head.LastSeq}, the newest per the stream head, are missing (deleted)");
                }
                else if (head.LastSeq < last)
                {
                    Report(head.LastSeq + 1, last.Value, AuditProblemKind.HeadMismatch,
                        $"records after {head.LastSeq} are not covered by the stream head (they were added outside the writer)");
                }
                else if (!head.Hash.AsSpan().SequenceEqual(_prevHash))
                {
                    Report(head.LastSeq, head.LastSeq, AuditProblemKind.HeadMismatch, $"record {head.LastSeq} does not match the stream head's hash (it was replaced)");
                }
            }

            return new AuditStreamVerification(StreamId, head?.Node, _problemCount == 0, _records, _first, last, _problemCount, _problems);
        }

        private void Report(long seq, long through, AuditProblemKind kind, string detail)
        {
            _problemCount++;
            if (_problems.Count < MaxProblemsListed)
            {
                _problems.Add(new AuditChainProblem(seq, through, kind, detail));
            }
        }
    }
}
