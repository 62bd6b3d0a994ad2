using ApprovalEngine.Gateway.Approvals;
using Npgsql;
using NpgsqlTypes;

namespace ApprovalEngine.Gateway.Teams;

/// <summary>Where the bot is installed: enough to send to a conversation later (a "conversation reference").</summary>
internal sealed record TeamsConversation
{
    public required string ConversationId { get; init; }
    public required string ServiceUrl { get; init; }
    public string? TenantId { get; init; }
    public string? ConversationType { get; init; }
    public string? TeamId { get; init; }
    public string? TeamName { get; init; }
    public string? ChannelId { get; init; }
    public string? ChannelName { get; init; }
    public string? UserId { get; init; }
    public string? UserAadObjectId { get; init; }
    public string? UserEmail { get; init; }
}

/// <summary>A Teams message that shows an approval.</summary>
internal sealed record TeamsMessageRow(string Target, string ServiceUrl, string ConversationId, string ActivityId, int Version);

internal sealed record TeamsRefusal(Guid? ApprovalId, string UserId, string? AadObjectId, string? Email, string Action, string Reason);

/// <summary>The Teams tables (migration 0006): conversation references, messages per approval, refused clicks.</summary>
internal sealed class TeamsStore(NpgsqlDataSource dataSource)
{
    // Notify rounds of one approval run one at a time (the invoke handler's immediate update included), so two never
    // both post a first card and an older state never overwrites a newer one. A session lock: each message is saved
    // the moment Teams has it, and a crashed node's session ends and releases it.

    private const string ReadMessagesSql = """
        SELECT target, service_url, conversation_id, activity_id, version FROM teams_message WHERE approval_id = $1 ORDER BY posted_at, target
        """;

    private const string SaveMessageSql = """
        INSERT INTO teams_message (approval_id, target, service_url, conversation_id, activity_id, version) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (approval_id, target) DO UPDATE SET version = excluded.version, updated_at = now()
        WHERE teams_message.version < excluded.version
        """;

    private const string SaveConversationSql = """
        INSERT INTO teams_conversation (conversation_id, service_url, tenant_id, conversation_type, team_id, team_name, channel_id,
            channel_name, user_id, user_aad_object_id, user_email)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (conversation_id) DO UPDATE SET service_url = excluded.service_url, tenant_id = excluded.tenant_id,
            conversation_type = excluded.conversation_type, team_id = coalesce(excluded.team_id, teams_conversation.team_id),
            team_name = coalesce(excluded.team_name, teams_conversation.team_name),
            channel_id = coalesce(excluded.channel_id, teams_conversation.channel_id),
            channel_name = coalesce(excluded.channel_name, teams_conversation.channel_name),
            user_id = coalesce(excluded.user_id, teams_conversation.user_id),
            user_aad_object_id = coalesce(excluded.user_aad_object_id, teams_conversation.user_aad_object_id),
            user_email = coalesce(excluded.user_email, teams_conversation.user_email), updated_at = now()
        """;

    private const string ConversationsSql = """
        SELECT conversation_id, service_url, tenant_id, conversation_type, team_id, team_name, channel_id, channel_name, user_id,
            user_aad_object_id, user_email FROM teams_conversation ORDER BY updated_at DESC
        """;

    private const string RefusalSql = """
        INSERT INTO teams_refusal (approval_id, user_id, aad_object_id, email, action, reason) VALUES ($1, $2, $3, $4, $5, $6)
        """;

    public async Task SaveConversationAsync(TeamsConversation c, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(SaveConversationSql);
        foreach (var value in new[] { c.ConversationId, c.ServiceUrl, c.TenantId, c.ConversationType, c.TeamId, c.TeamName, c.ChannelId, c.ChannelName, c.UserId, c.UserAadObjectId, c.UserEmail })
        {
            command.Parameters.Add(Text(value));
        }

        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Every stored conversation, newest first (an installation is rare; there are few).</summary>
    public async Task<List<TeamsConversation>> ConversationsAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(ConversationsSql);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var list = new List<TeamsConversation>();
        while (await reader.ReadAsync(ct))
        {
            string? At(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            list.Add(new TeamsConversation
            {
                ConversationId = reader.GetString(0),
                ServiceUrl = reader.GetString(1),
                TenantId = At(2),
                ConversationType = At(3),
                TeamId = At(4),
                TeamName = At(5),
                ChannelId = At(6),
                ChannelName = At(7),
                UserId = At(8),
                UserAadObjectId = At(9),
                UserEmail = At(10),
            });
        }

        return list;
    }

    public async Task RecordRefusalAsync(TeamsRefusal refusal, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(RefusalSql);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)refusal.ApprovalId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(Text(refusal.UserId));
        command.Parameters.Add(Text(refusal.AadObjectId));
        command.Parameters.Add(Text(refusal.Email));
        command.Parameters.Add(Text(refusal.Action));
        command.Parameters.Add(Text(refusal.Reason));
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Takes the approval's message lock and reads its messages; disposing releases the lock.</summary>
    public async Task<MessageLock> LockAsync(Guid approvalId, CancellationToken ct)
    {
        var held = await ApprovalLock.AcquireAsync(dataSource, "teams", approvalId, ct);
        try
        {
            var rows = new List<TeamsMessageRow>();
            await using (var read = new NpgsqlCommand(ReadMessagesSql, held.Connection))
            {
                read.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = approvalId });
                await using var reader = await read.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    rows.Add(new TeamsMessageRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4)));
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

    private static NpgsqlParameter Text(string? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };

    /// <summary>An approval's messages under its lock.</summary>
    internal sealed class MessageLock(ApprovalLock held, List<TeamsMessageRow> rows) : IAsyncDisposable
    {
        public IReadOnlyList<TeamsMessageRow> Messages => rows;

        public async Task SaveAsync(TeamsMessageRow row, CancellationToken ct)
        {
            await using var command = new NpgsqlCommand(SaveMessageSql, held.Connection);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = held.ApprovalId });
            command.Parameters.Add(Text(row.Target));
            command.Parameters.Add(Text(row.ServiceUrl));
            command.Parameters.Add(Text(row.ConversationId));
            command.Parameters.Add(Text(row.ActivityId));
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = row.Version });
            await command.ExecuteNonQueryAsync(ct);
        }

        public ValueTask DisposeAsync() => held.DisposeAsync();
    }
}
