using Npgsql;
using NpgsqlTypes;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>The SQL of the audit tables (migration 0002_tool_call_audit.sql): batch insert, stream heads, row reading.</summary>
internal static class ToolCallAuditStore
{
    /// <summary>SQLSTATEs raised by the audit's own PL/pgSQL.</summary>
    public const string AppendOnlyState = "AE020";
    public const string StreamMovedState = "AE021";

    // One statement for the whole batch: each column travels as one array parameter, so the statement text and its
    // prepared plan are the same for every batch size, and with the head update it is one round trip in one implicit
    // transaction. Binary COPY (explicit transaction, COPY, head update, COMMIT) was measured against it: at the batch
    // sizes group commit produces (1 to ~50) neither was consistently faster on the 2-core machine; COPY pulled ahead
    // only at a few hundred records per batch.
    private const string InsertSql = """
        INSERT INTO tool_call_audit (id, stream_id, seq, at, duration_us, agent_id, bundle, upstream, tool, tool_name,
            arguments_digest, arguments, decision, rule, outcome, error, session_id, request_id, shadow_decision, shadow_rule,
            approval_id, executed_arguments_digest, prev_hash, hash)
        SELECT r.id, $1, r.seq, r.at, r.duration_us, r.agent_id, r.bundle, r.upstream, r.tool, r.tool_name,
            r.arguments_digest, r.arguments::json, r.decision, r.rule, r.outcome, r.error, r.session_id, r.request_id,
            r.shadow_decision, r.shadow_rule, r.approval_id, r.executed_arguments_digest, r.prev_hash, r.hash
        FROM unnest($2::uuid[], $3::bigint[], $4::timestamptz[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[],
            $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
            $19::text[], $20::text[], $21::uuid[], $22::text[], $23::bytea[], $24::bytea[])
            AS r(id, seq, at, duration_us, agent_id, bundle, upstream, tool, tool_name, arguments_digest, arguments, decision,
                 rule, outcome, error, session_id, request_id, shadow_decision, shadow_rule, approval_id, executed_arguments_digest,
                 prev_hash, hash)
        """;

    private const string AdvanceSql = "SELECT tool_call_audit_advance($1, $2, $3, $4, $5)";

    private const string HeadSql = "SELECT last_seq, head_hash FROM tool_call_audit_stream WHERE stream_id = $1";

    /// <summary>The columns every reader selects, in the order <see cref="ReadEntry"/> expects (prefix them as needed).</summary>
    public const string Columns = """
        id, stream_id, seq, at, duration_us, agent_id, bundle, upstream, tool, tool_name, arguments_digest, arguments::text,
        decision, rule, outcome, error, session_id, request_id, shadow_decision, shadow_rule, approval_id, executed_arguments_digest,
        prev_hash, hash
        """;

    /// <summary>
    /// Inserts <paramref name="records"/> and moves the stream head from <paramref name="expectedSeq"/>, as one batch that
    /// PostgreSQL runs as one implicit transaction: one round trip, one commit, nothing half-written on failure.
    /// </summary>
    public static async Task InsertAsync(
        NpgsqlDataSource dataSource, Guid streamId, string node, long expectedSeq, IReadOnlyList<ChainedRecord> records, int timeoutSeconds, CancellationToken ct)
    {
        var n = records.Count;
        var ids = new Guid[n];
        var seqs = new long[n];
        var at = new DateTime[n];
        var durations = new long[n];
        var text = new string?[15][];
        for (var f = 0; f < text.Length; f++)
        {
            text[f] = new string?[n];
        }

        var approvals = new Guid?[n];
        var executed = new string?[n];
        var prev = new byte[n][];
        var hashes = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            var c = records[i];
            var r = c.Record;
            ids[i] = c.Id;
            seqs[i] = c.Seq;
            at[i] = r.StartedAt.UtcDateTime;
            durations[i] = r.Duration.Ticks / TimeSpan.TicksPerMicrosecond;
            (text[0][i], text[1][i], text[2][i], text[3][i], text[4][i], text[5][i], text[6][i]) =
                (r.AgentId, r.Bundle, r.Upstream, r.Tool, r.ToolName, r.ArgumentsDigest, r.RedactedArguments);
            (text[7][i], text[8][i], text[9][i], text[10][i], text[11][i], text[12][i]) =
                (r.Decision, r.Rule, r.Outcome, r.Error, r.SessionId, r.RequestId);
            (text[13][i], text[14][i]) = (r.ShadowDecision, r.ShadowRule);
            approvals[i] = r.ApprovalId;
            executed[i] = r.ExecutedArgumentsDigest;
            prev[i] = c.PrevHash;
            hashes[i] = c.Hash;
        }

        var insert = new NpgsqlBatchCommand(InsertSql);
        insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = streamId });
        insert.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids });
        insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = seqs });
        insert.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = at, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = durations });
        foreach (var column in text)
        {
            insert.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = column, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        }

        insert.Parameters.Add(new NpgsqlParameter<Guid?[]> { TypedValue = approvals, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        insert.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = executed, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = prev, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = hashes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });

        var advance = new NpgsqlBatchCommand(AdvanceSql)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid> { TypedValue = streamId },
                new NpgsqlParameter<string> { TypedValue = node },
                new NpgsqlParameter<long> { TypedValue = expectedSeq },
                new NpgsqlParameter<long> { TypedValue = records[^1].Seq },
                new NpgsqlParameter<byte[]> { TypedValue = records[^1].Hash },
            },
        };

        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(connection) { BatchCommands = { insert, advance }, Timeout = timeoutSeconds };
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Where the stream's head is in the database: (0, genesis) for a stream with no committed record.</summary>
    public static async Task<ChainHead> ReadHeadAsync(NpgsqlDataSource dataSource, Guid streamId, int timeoutSeconds, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(HeadSql);
        command.CommandTimeout = timeoutSeconds;
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = streamId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new ChainHead(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1))
            : new ChainHead(0, ToolCallAuditChain.Genesis(streamId));
    }

    /// <summary>Reads a row selected with <see cref="Columns"/>, column by column in order (the verifier streams with SequentialAccess).</summary>
    public static StoredRecord ReadEntry(NpgsqlDataReader reader)
    {
        var column = 0;
        string? Text() => reader.IsDBNull(column) ? Skip() : reader.GetString(column++);
        string? Skip()
        {
            column++;
            return null;
        }

        Guid? Uuid()
        {
            if (reader.IsDBNull(column))
            {
                column++;
                return null;
            }

            return reader.GetGuid(column++);
        }

        var id = reader.GetGuid(column++);
        var streamId = reader.GetGuid(column++);
        var seq = reader.GetInt64(column++);
        var startedAt = reader.GetFieldValue<DateTimeOffset>(column++);
        var duration = TimeSpan.FromTicks(reader.GetInt64(column++) * TimeSpan.TicksPerMicrosecond);
        var record = new ToolCallRecord
        {
            StartedAt = startedAt,
            Duration = duration,
            AgentId = Text()!,
            Bundle = Text()!,
            Upstream = Text()!,
            Tool = Text()!,
            ToolName = Text()!,
            ArgumentsDigest = Text()!,
            RedactedArguments = Text()!,
            Decision = Text()!,
            Rule = Text(),
            Outcome = Text()!,
            Error = Text(),
            SessionId = Text(),
            RequestId = Text(),
            ShadowDecision = Text(),
            ShadowRule = Text(),
            ApprovalId = Uuid(),
            ExecutedArgumentsDigest = Text(),
        };
        var prevHash = reader.GetFieldValue<byte[]>(column++);
        var hash = reader.GetFieldValue<byte[]>(column);
        return new StoredRecord(new ToolCallAuditEntry(id, streamId, seq, record), prevHash, hash);
    }
}

/// <summary>Where a chain stream ends: its last seq and that record's hash.</summary>
internal readonly record struct ChainHead(long Seq, byte[] Hash)
{
    public bool SameAs(ChainHead other) => Seq == other.Seq && Hash.AsSpan().SequenceEqual(other.Hash);
}

/// <summary>A record placed in the chain: its id, seq and the hashes that link it.</summary>
internal sealed record ChainedRecord(Guid Id, long Seq, ToolCallRecord Record, byte[] PrevHash, byte[] Hash);

/// <summary>A row as stored, with the hashes the verifier checks.</summary>
internal sealed record StoredRecord(ToolCallAuditEntry Entry, byte[] PrevHash, byte[] Hash);
