using System.Globalization;
using System.Text;
using ApprovalEngine.Workflows.Approval;
using Npgsql;
using NpgsqlTypes;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>Queries over workflows with keyset (cursor) paging on (created_at, id), in either direction.</summary>
internal static class WorkflowQueries
{
    private const string Columns = "id, business_key, version, data, updated_at, created_at";

    public static async Task<WorkflowPage> QueryAsync(NpgsqlDataSource dataSource, WorkflowQuery query, CancellationToken ct)
    {
        if (query.Limit is < 1 or > WorkflowQuery.MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Limit, $"Limit must be between 1 and {WorkflowQuery.MaxLimit}.");
        }

        var (afterAt, afterId) = DecodeCursor(query.Cursor);

        // Only the filters that are set become predicates, so the planner can use the matching index; the SQL text
        // holds column names and parameter numbers, never a value.
        var command = new NpgsqlBatchCommand();
        var sql = new StringBuilder($"SELECT {Columns} FROM wf_instance WHERE true");
        string Add(NpgsqlParameter parameter)
        {
            command.Parameters.Add(parameter);
            return "$" + command.Parameters.Count.ToString(CultureInfo.InvariantCulture);
        }

        void Equal(string column, string? value)
        {
            if (value is not null)
            {
                sql.Append($" AND {column} = {Add(new NpgsqlParameter<string> { TypedValue = value })}");
            }
        }

        if (query.Status is { } status)
        {
            Equal("state", ApprovalMachine.StatusName(status));
        }

        if (query.Statuses is { } statuses)
        {
            sql.Append($" AND state = ANY({Add(new NpgsqlParameter<string[]> { TypedValue = [.. statuses.Select(ApprovalMachine.StatusName)] })})");
        }

        Equal("agent_id", query.AgentId);
        Equal("bundle", query.Bundle);
        Equal("tool", query.Tool);
        if (query.Approver is { } approver)
        {
            sql.Append($" AND deciders @> ARRAY[{Add(new NpgsqlParameter<string> { TypedValue = approver })}]");
        }

        if (query.Person is { } person)
        {
            var lower = Add(new NpgsqlParameter<string> { TypedValue = person.ToLowerInvariant() });
            var exact = Add(new NpgsqlParameter<string> { TypedValue = person });
            sql.Append($" AND (approvers @> ARRAY[{lower}] OR deciders @> ARRAY[{exact}] OR deciders @> ARRAY[{lower}])");
        }

        if (query.CreatedFrom is { } from)
        {
            sql.Append($" AND created_at >= {Add(Time(from))}");
        }

        if (query.CreatedBefore is { } before)
        {
            sql.Append($" AND created_at < {Add(Time(before))}");
        }

        if (query.UpdatedFrom is { } updated)
        {
            sql.Append($" AND updated_at >= {Add(Time(updated))}");
        }

        var direction = query.NewestFirst ? "DESC" : "ASC";
        if (afterAt is { } at)
        {
            sql.Append($" AND (created_at, id) {(query.NewestFirst ? "<" : ">")} ({Add(Time(at))}, {Add(new NpgsqlParameter<Guid> { TypedValue = afterId })})");
        }

        // One row more than asked says whether another page exists.
        sql.Append($" ORDER BY created_at {direction}, id {direction} LIMIT {Add(new NpgsqlParameter<int> { TypedValue = query.Limit + 1 })}");
        command.CommandText = sql.ToString();

        // One batch runs as one implicit transaction: now() is the start of the snapshot the rows come from.
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT now()"));
        batch.BatchCommands.Add(command);
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var asOf = reader.GetFieldValue<DateTimeOffset>(0);
        await reader.NextResultAsync(ct);

        var items = new List<WorkflowSnapshot>();
        DateTimeOffset lastCreated = default;
        while (await reader.ReadAsync(ct))
        {
            if (items.Count == query.Limit)
            {
                return new WorkflowPage(items, EncodeCursor(lastCreated, items[^1].Id), asOf);
            }

            items.Add(new WorkflowSnapshot(
                reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), WorkflowStore.DeserializeState(reader.GetString(3)), reader.GetFieldValue<DateTimeOffset>(4)));
            lastCreated = reader.GetFieldValue<DateTimeOffset>(5);
        }

        return new WorkflowPage(items, null, asOf);
    }

    /// <summary>The workflows among <paramref name="ids"/> that exist, in no particular order.</summary>
    public static async Task<IReadOnlyList<WorkflowSnapshot>> GetManyAsync(NpgsqlDataSource dataSource, IReadOnlyCollection<Guid> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        await using var cmd = dataSource.CreateCommand("SELECT id, business_key, version, data, updated_at FROM wf_instance WHERE id = ANY($1)");
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. ids] });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var items = new List<WorkflowSnapshot>(ids.Count);
        while (await reader.ReadAsync(ct))
        {
            items.Add(new WorkflowSnapshot(
                reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), WorkflowStore.DeserializeState(reader.GetString(3)), reader.GetFieldValue<DateTimeOffset>(4)));
        }

        return items;
    }

    private static string EncodeCursor(DateTimeOffset createdAt, Guid id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{createdAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}:{id:N}"));

    private static (DateTimeOffset?, Guid) DecodeCursor(string? cursor)
    {
        if (cursor is null)
        {
            return (null, Guid.Empty);
        }

        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(cursor)).Split(':');
            return (new DateTimeOffset(long.Parse(parts[0], CultureInfo.InvariantCulture), TimeSpan.Zero), Guid.ParseExact(parts[1], "N"));
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException)
        {
            throw new ArgumentException($"The cursor '{cursor}' is not one this API returned.", nameof(cursor), e);
        }
    }

    private static NpgsqlParameter Time(DateTimeOffset value) => new NpgsqlParameter<DateTimeOffset> { TypedValue = value.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz };
}
