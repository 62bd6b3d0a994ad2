using System.Buffers.Binary;
using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>Which audit records to list. Every set filter must match; null filters match everything.</summary>
public sealed record ToolCallAuditFilter
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public string? AgentId { get; init; }

    public string? Bundle { get; init; }

    public string? Upstream { get; init; }

    /// <summary>The upstream-local tool name.</summary>
    public string? Tool { get; init; }

    /// <summary>The namespaced name the agent called.</summary>
    public string? ToolName { get; init; }

    public string? Decision { get; init; }

    /// <summary>The policy rule that decided (<c>default</c> for the policy's default).</summary>
    public string? Rule { get; init; }

    /// <summary>What a detect-mode rule would have decided; <c>*</c> for every call a shadow rule matched.</summary>
    public string? ShadowDecision { get; init; }

    public string? Outcome { get; init; }

    /// <summary>The approval a gated call started or joined (or whose grant let it through).</summary>
    public Guid? ApprovalId { get; init; }

    /// <summary>First call start included.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Call start where the range ends, excluded.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>The <see cref="ToolCallAuditPage.NextCursor"/> of the previous page; null for the first page.</summary>
    public string? Cursor { get; init; }

    /// <summary>Records per page, 1 to <see cref="MaxLimit"/>.</summary>
    public int Limit { get; init; } = DefaultLimit;
}

/// <summary>One page, newest first; <see cref="NextCursor"/> is null on the last page.</summary>
public sealed record ToolCallAuditPage(IReadOnlyList<ToolCallAuditEntry> Items, string? NextCursor);

/// <summary>
/// The audit trail for auditors: filtered (by bundle, agent, upstream, tool, decision, rule, shadow decision, outcome, time) and paged newest
/// first with a keyset cursor on (at, id), so a page costs the same however deep it is and records written meanwhile
/// never shift the pages already read.
/// </summary>
public sealed class ToolCallAuditQueries(NpgsqlDataSource dataSource)
{
    private const int CursorLength = 8 + 16;

    private static readonly long MaxMicroseconds = ToolCallAuditChain.ToMicroseconds(DateTimeOffset.MaxValue);

    public async Task<ToolCallAuditPage> QueryAsync(ToolCallAuditFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (filter.Limit is < 1 or > ToolCallAuditFilter.MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(filter), filter.Limit, $"Limit must be between 1 and {ToolCallAuditFilter.MaxLimit}.");
        }

        // Only the filters that are set become predicates: a plan with "($1 IS NULL OR bundle = $1)" cannot use the
        // (bundle, at, id) index. The SQL text holds column names and parameter numbers, never a value.
        var sql = new StringBuilder($"SELECT {ToolCallAuditStore.Columns} FROM tool_call_audit WHERE true");
        await using var command = dataSource.CreateCommand();
        void Equal(string column, string? value)
        {
            if (value is not null)
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = value });
                sql.Append($" AND {column} = ${command.Parameters.Count}");
            }
        }

        Equal("agent_id", filter.AgentId);
        Equal("bundle", filter.Bundle);
        Equal("upstream", filter.Upstream);
        Equal("tool", filter.Tool);
        Equal("tool_name", filter.ToolName);
        Equal("decision", filter.Decision);
        Equal("rule", filter.Rule);
        if (filter.ShadowDecision == "*")
        {
            sql.Append(" AND shadow_decision IS NOT NULL");
        }
        else
        {
            Equal("shadow_decision", filter.ShadowDecision);
        }

        Equal("outcome", filter.Outcome);
        if (filter.ApprovalId is { } approvalId)
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = approvalId });
            sql.Append($" AND approval_id = ${command.Parameters.Count}");
        }

        if (filter.From is { } from)
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = from.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
            sql.Append($" AND at >= ${command.Parameters.Count}");
        }

        if (filter.To is { } to)
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = to.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
            sql.Append($" AND at < ${command.Parameters.Count}");
        }

        if (filter.Cursor is not null)
        {
            var (at, id) = DecodeCursor(filter.Cursor);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = at, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
            sql.Append($" AND (at, id) < (${command.Parameters.Count - 1}, ${command.Parameters.Count})");
        }

        // One row more than asked says whether another page exists.
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = filter.Limit + 1 });
        sql.Append($" ORDER BY at DESC, id DESC LIMIT ${command.Parameters.Count}");
        command.CommandText = sql.ToString();

        var items = new List<ToolCallAuditEntry>(Math.Min(filter.Limit + 1, 256));
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                items.Add(ToolCallAuditStore.ReadEntry(reader).Entry);
            }
        }

        if (items.Count <= filter.Limit)
        {
            return new ToolCallAuditPage(items, null);
        }

        items.RemoveAt(items.Count - 1);
        var last = items[^1];
        return new ToolCallAuditPage(items, EncodeCursor(last.Record.StartedAt, last.Id));
    }

    // Opaque to clients: base64url of the last row's start (µs since the epoch) and id.
    private static string EncodeCursor(DateTimeOffset at, Guid id)
    {
        Span<byte> bytes = stackalloc byte[CursorLength];
        BinaryPrimitives.WriteInt64BigEndian(bytes, ToolCallAuditChain.ToMicroseconds(at));
        id.TryWriteBytes(bytes[8..], bigEndian: true, out _);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private static (DateTimeOffset At, Guid Id) DecodeCursor(string cursor)
    {
        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        base64 += new string('=', (4 - (base64.Length % 4)) % 4);
        Span<byte> bytes = stackalloc byte[CursorLength + 3];
        if (!Convert.TryFromBase64String(base64, bytes, out var written) || written != CursorLength)
        {
            throw new ArgumentException($"'{cursor}' is not a cursor returned by this query.", nameof(cursor));
        }

        var micros = BinaryPrimitives.ReadInt64BigEndian(bytes);
        if (micros < 0 || micros > MaxMicroseconds)
        {
            throw new ArgumentException($"'{cursor}' is not a cursor returned by this query.", nameof(cursor));
        }

        var at = DateTimeOffset.UnixEpoch.AddTicks(micros * TimeSpan.TicksPerMicrosecond);
        return (at, new Guid(bytes.Slice(8, 16), bigEndian: true));
    }
}
