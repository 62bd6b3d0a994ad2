using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Testing;
using Npgsql;
using static ApprovalEngine.Gateway.Tests.Audit.AuditFixtures;

namespace ApprovalEngine.Gateway.Tests.Audit;

public sealed class ToolCallAuditTamperTests
{
    public const string AppendOnlySqlState = "AE020";

    [Theory]
    [InlineData("UPDATE tool_call_audit SET decision = 'allow' WHERE stream_id = $1 AND seq = 3", AuditProblemKind.Modified)]
    [InlineData("UPDATE tool_call_audit SET tool = 'read_file' WHERE stream_id = $1 AND seq = 3", AuditProblemKind.Modified)]
    [InlineData("UPDATE tool_call_audit SET arguments = '{\"path\":\"/etc/hosts\"}' WHERE stream_id = $1 AND seq = 3", AuditProblemKind.Modified)]
    [InlineData("UPDATE tool_call_audit SET shadow_decision = 'deny', shadow_rule = 'trial' WHERE stream_id = $1 AND seq = 3", AuditProblemKind.Modified)]
    [InlineData("DELETE FROM tool_call_audit WHERE stream_id = $1 AND seq = 3", AuditProblemKind.Missing)]
    public async Task Verify_SuperuserChangedOneRecord_ReportsExactlyThatStreamAndSeq(string tamper, AuditProblemKind kind)
    {
        var (connectionString, dataSource, streams) = await ThreeStreamsAsync("audit_tamper");
        await using var _ = dataSource;

        Assert.Equal(1, await TamperAsync(connectionString, tamper, streams[1]));

        var results = await VerifyAsync(dataSource);
        Assert.Equal(3, results.Count);
        var broken = Assert.Single(results, r => !r.Valid);
        Assert.Equal(streams[1], broken.StreamId);
        var problem = Assert.Single(broken.Problems);
        Assert.Equal((3L, 3L, kind), (problem.Seq, problem.ThroughSeq, problem.Kind));
        Assert.All(results.Where(r => r.StreamId != streams[1]), r => Assert.Equal(5, r.Records));
    }

    [Fact]
    public async Task Verify_TriggerDisabledAndHashRewritten_ReportsTheRecordAndTheBrokenLinkAfterIt()
    {
        var (connectionString, dataSource, streams) = await ThreeStreamsAsync("audit_relink");
        await using var _ = dataSource;

        // The other way around the trigger: disable it (as the table's owner), rewrite, enable it again.
        await using (var connection = new NpgsqlConnection(TestPostgres.SuperuserConnectionString(connectionString)))
        {
            await connection.OpenAsync();
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    new("ALTER TABLE tool_call_audit DISABLE TRIGGER tool_call_audit_no_update"),
                    new("UPDATE tool_call_audit SET hash = sha256(hash) WHERE stream_id = $1 AND seq = 2") { Parameters = { new() { Value = streams[0] } } },
                    new("ALTER TABLE tool_call_audit ENABLE TRIGGER tool_call_audit_no_update"),
                },
            };
            Assert.Equal(1, await batch.ExecuteNonQueryAsync());
        }

        var broken = Assert.Single(await VerifyAsync(dataSource), r => !r.Valid);
        Assert.Equal(streams[0], broken.StreamId);
        Assert.Equal(
            [(2L, AuditProblemKind.Modified), (3L, AuditProblemKind.Unlinked)],
            broken.Problems.Select(p => (p.Seq, p.Kind)));
    }

    [Fact]
    public async Task Verify_NewestRecordsDeleted_ReportedThroughTheStreamHead()
    {
        var (connectionString, dataSource, streams) = await ThreeStreamsAsync("audit_tail");
        await using var _ = dataSource;

        Assert.Equal(2, await TamperAsync(connectionString, "DELETE FROM tool_call_audit WHERE stream_id = $1 AND seq >= 4", streams[2]));

        var broken = Assert.Single(await VerifyAsync(dataSource), r => !r.Valid);
        Assert.Equal(streams[2], broken.StreamId);
        var problem = Assert.Single(broken.Problems);
        Assert.Equal((4L, 5L, AuditProblemKind.Missing), (problem.Seq, problem.ThroughSeq, problem.Kind));
    }

    [Fact]
    public async Task Verify_WholeStreamDeleted_ReportedThroughTheStreamHead()
    {
        var (connectionString, dataSource, streams) = await ThreeStreamsAsync("audit_all");
        await using var _ = dataSource;

        Assert.Equal(5, await TamperAsync(connectionString, "DELETE FROM tool_call_audit WHERE stream_id = $1", streams[0]));

        var broken = Assert.Single(await VerifyAsync(dataSource), r => !r.Valid);
        Assert.Equal((streams[0], 0L), (broken.StreamId, broken.Records));
        Assert.Equal((1L, 5L, AuditProblemKind.Missing), (broken.Problems[0].Seq, broken.Problems[0].ThroughSeq, broken.Problems[0].Kind));
    }

    [Fact]
    public async Task Verify_TimeRange_ChecksOnlyTheRecordsStartedInIt()
    {
        var (connectionString, dataSource, streams) = await ThreeStreamsAsync("audit_range");
        await using var _ = dataSource;
        Assert.Equal(1, await TamperAsync(connectionString, "UPDATE tool_call_audit SET outcome = 'ok' WHERE stream_id = $1 AND seq = 5", streams[1]));
        var tamperedAt = await ScalarAsync<DateTime>(dataSource, "SELECT at FROM tool_call_audit WHERE stream_id = $1 AND seq = 5", streams[1]);

        var before = await VerifyAsync(dataSource, to: new DateTimeOffset(tamperedAt, TimeSpan.Zero));
        var including = await VerifyAsync(dataSource, from: new DateTimeOffset(tamperedAt, TimeSpan.Zero));

        Assert.All(before, r => Assert.True(r.Valid));
        Assert.Contains(before, r => r.StreamId == streams[1] && r.LastSeq == 4);
        var broken = Assert.Single(including, r => !r.Valid);
        Assert.Equal((streams[1], 5L), (broken.StreamId, broken.Problems.Single().Seq));
    }

    [Theory]
    [InlineData("UPDATE tool_call_audit SET decision = 'allow'")]
    [InlineData("DELETE FROM tool_call_audit")]
    [InlineData("TRUNCATE tool_call_audit")]
    [InlineData("UPDATE tool_call_audit_stream SET last_seq = 1")]
    [InlineData("UPDATE tool_call_audit_stream SET node = 'elsewhere', last_seq = last_seq + 1")]
    [InlineData("DELETE FROM tool_call_audit_stream")]
    [InlineData("TRUNCATE tool_call_audit_stream")]
    public async Task Tamper_AsApplicationRoleWithAllPrivileges_RejectedWithAppendOnlyState(string statement)
    {
        var (connectionString, dataSource, _) = await ThreeStreamsAsync("audit_role");
        await using var __ = dataSource;
        var role = $"ae_audit_app_{Guid.NewGuid():N}"[..30];
        await using var admin = NpgsqlDataSource.Create(TestPostgres.SuperuserConnectionString(connectionString));
        await using (var create = admin.CreateCommand($"""
            CREATE ROLE {role} LOGIN NOSUPERUSER;
            GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON tool_call_audit, tool_call_audit_stream TO {role};
            """))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            var asRole = new NpgsqlConnectionStringBuilder(connectionString) { Username = role, Pooling = false }.ConnectionString;
            await using var connection = new NpgsqlConnection(asRole);
            await connection.OpenAsync();
            await using var tamper = new NpgsqlCommand(statement, connection);

            var e = await Assert.ThrowsAsync<PostgresException>(() => tamper.ExecuteNonQueryAsync());

            Assert.Equal(AppendOnlySqlState, e.SqlState);
            Assert.Equal(15L, await ScalarAsync<long>(dataSource, "SELECT count(*) FROM tool_call_audit WHERE decision = 'deny'"));
            Assert.All(await VerifyAsync(dataSource), r => Assert.True(r.Valid));
        }
        finally
        {
            await using var drop = admin.CreateCommand($"DROP OWNED BY {role}; DROP ROLE {role}");
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Three writers (three streams) with five records each; returns the stream ids in writer order.</summary>
    internal static async Task<(string ConnectionString, NpgsqlDataSource DataSource, Guid[] Streams)> ThreeStreamsAsync(string prefix)
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync(prefix);
        var dataSource = NpgsqlDataSource.Create(connectionString);
        var streams = new Guid[3];
        for (var w = 0; w < 3; w++)
        {
            await using var writer = Writer(dataSource);
            streams[w] = writer.StreamId;
            for (var i = 0; i < 5; i++)
            {
                await writer.AppendAsync(Record((w * 10) + i, decision: ToolCallDecision.Deny, outcome: ToolCallOutcome.Denied));
            }
        }

        Assert.All(await VerifyAsync(dataSource), r => Assert.True(r.Valid));
        return (connectionString, dataSource, streams);
    }
}
