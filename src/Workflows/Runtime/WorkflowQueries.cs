using System.Globalization;
using System.Text;
using ApprovalEngine.Workflows.Approval;
using Npgsql;
using NpgsqlTypes;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>Queries over workflows with keyset (cursor) paging on (created_at, id).</summary>
internal static class WorkflowQueries
{
    private const string Sql = """
        SELECT id, business_key, version, data, updated_at, created_at FROM wf_instance
        WHERE ($1::text IS NULL OR state = $1)
          AND ($2::text IS NULL OR agent_id = $2)
          AND ($3::text IS NULL OR bundle = $3)
          AND ($4::text IS NULL OR tool = $4)
          AND ($5::text IS NULL OR deciders @> ARRAY[$5])
          AND ($6::timestamptz IS NULL OR created_at >= $6)
          AND ($7::timestamptz IS NULL OR created_at < $7)
          AND ($8::timestamptz IS NULL OR (created_at, id) > ($8, $9))
        ORDER BY created_at, id
        LIMIT $10
        """;

    public static async Task<WorkflowPage> QueryAsync(NpgsqlDataSource dataSource, WorkflowQuery query, CancellationToken ct)
    {
        if (query.Limit is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Limit, "Limit must be between 1 and 1000.");
        }

        var (afterAt, afterId) = DecodeCursor(query.Cursor);
        await using var cmd = dataSource.CreateCommand(Sql);
        cmd.Parameters.Add(Text(query.Status is { } s ? ApprovalMachine.StatusName(s) : null));
        cmd.Parameters.Add(Text(query.AgentId));
        cmd.Parameters.Add(Text(query.Bundle));
        cmd.Parameters.Add(Text(query.Tool));
        cmd.Parameters.Add(Text(query.Approver));
        cmd.Parameters.Add(Time(query.CreatedFrom));
        cmd.Parameters.Add(Time(query.CreatedBefore));
        cmd.Parameters.Add(Time(afterAt));
        cmd.Parameters.Add(new NpgsqlParameter { Value = afterId, NpgsqlDbType = NpgsqlDbType.Uuid });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = query.Limit + 1 });

        var items = new List<WorkflowSnapshot>();
        DateTimeOffset lastCreated = default;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (items.Count == query.Limit)
            {
                var last = items[^1];
                return new WorkflowPage(items, EncodeCursor(lastCreated, last.Id));
            }

            items.Add(new WorkflowSnapshot(
                reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), WorkflowStore.DeserializeState(reader.GetString(3)), reader.GetFieldValue<DateTimeOffset>(4)));
            lastCreated = reader.GetFieldValue<DateTimeOffset>(5);
        }

        return new WorkflowPage(items, null);
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
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            throw new ArgumentException($"The cursor '{cursor}' is not one this API returned.", nameof(cursor), e);
        }
    }

    private static NpgsqlParameter Text(string? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };

    private static NpgsqlParameter Time(DateTimeOffset? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz };
}
