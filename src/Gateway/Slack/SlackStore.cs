using ApprovalEngine.Gateway.Approvals;
using Npgsql;
using NpgsqlTypes;

namespace ApprovalEngine.Gateway.Slack;

/// <summary>A Slack message that shows an approval.</summary>
internal sealed record SlackMessageRow(string Target, string Channel, string Ts, int Version);

/// <summary>A click refused before it reached the approval (see the slack_refusal table).</summary>
internal sealed record SlackRefusal(Guid? ApprovalId, string? TeamId, string UserId, string? Email, string Action, string Reason);

/// <summary>The Slack tables (migration 0005): messages per approval, deliveries seen, refused clicks.</summary>
internal sealed class SlackStore(NpgsqlDataSource dataSource)
{
    // One lock per approval: notify tasks of the same approval run one at a time, so two of them never both post a
    // first card, and an older state never overwrites a newer one. A session lock rather than a transaction's, so each
    // message is saved (committed) the moment Slack has it; a crashed node's session ends and releases it.

    private const string ReadSql = "SELECT target, channel, ts, version FROM slack_message WHERE approval_id = $1 ORDER BY posted_at, target";

    private const string SaveSql = """
        INSERT INTO slack_message (approval_id, target, channel, ts, version) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (approval_id, target) DO UPDATE SET version = excluded.version, updated_at = now()
        WHERE slack_message.version < excluded.version
        """;

    private const string SeenSql = """
        WITH gone AS (DELETE FROM slack_delivery_seen WHERE expires_at < now())
        INSERT INTO slack_delivery_seen (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING
        """;

    private const string RefusalSql = """
        INSERT INTO slack_refusal (approval_id, team_id, user_id, email, action, reason) VALUES ($1, $2, $3, $4, $5, $6)
        """;

    /// <summary>
    /// Takes the approval's message lock and reads its messages. The caller talks to Slack while holding it and saves
    /// each message as soon as Slack has it; disposing releases the lock.
    /// </summary>
    public async Task<MessageLock> LockAsync(Guid approvalId, CancellationToken ct)
    {
        var held = await ApprovalLock.AcquireAsync(dataSource, "slack", approvalId, ct);
        try
        {
            var rows = new List<SlackMessageRow>();
            await using (var read = new NpgsqlCommand(ReadSql, held.Connection))
            {
                read.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = approvalId });
                await using var reader = await read.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    rows.Add(new SlackMessageRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3)));
                }
            }

            return new MessageLock(held, rows);
        }
        catch
        {
            await held.DisposeAsync();
            throw;
        }
    }

    /// <summary>True the first time <paramref name="key"/> is seen (on any node) until <paramref name="expiresAt"/>.</summary>
    public async Task<bool> FirstDeliveryAsync(string key, DateTimeOffset expiresAt, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(SeenSql);
        command.Parameters.Add(new NpgsqlParameter { Value = key, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = expiresAt });
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task RecordRefusalAsync(SlackRefusal refusal, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(RefusalSql);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)refusal.ApprovalId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(Text(refusal.TeamId));
        command.Parameters.Add(Text(refusal.UserId));
        command.Parameters.Add(Text(refusal.Email));
        command.Parameters.Add(Text(refusal.Action));
        command.Parameters.Add(Text(refusal.Reason));
        await command.ExecuteNonQueryAsync(ct);
    }

    private static NpgsqlParameter Text(string? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };

    /// <summary>An approval's messages under its lock.</summary>
    internal sealed class MessageLock(ApprovalLock held, List<SlackMessageRow> rows) : IAsyncDisposable
    {
        public IReadOnlyList<SlackMessageRow> Messages => rows;

        public async Task SaveAsync(SlackMessageRow row, CancellationToken ct)
        {
            await using var command = new NpgsqlCommand(SaveSql, held.Connection);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = held.ApprovalId });
            command.Parameters.Add(new NpgsqlParameter { Value = row.Target, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = row.Channel, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = row.Ts, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = row.Version });
            await command.ExecuteNonQueryAsync(ct);
        }

        public ValueTask DisposeAsync() => held.DisposeAsync();
    }
}
