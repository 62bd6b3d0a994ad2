using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Workflows.Storage;
using Npgsql;
using static ApprovalEngine.Gateway.Tests.Audit.AuditFixtures;

namespace ApprovalEngine.Gateway.Tests.Audit;

/// <summary>The database goes away under the writer and comes back. Its own cluster: the shared one must stay up.</summary>
public sealed class ToolCallAuditOutageTests
{
    // Far beyond the bound asserted below: a failure must come from the refused connection, not from a timeout.
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task AppendAsync_DatabaseStoppedThenRestarted_FailsPromptlyThenSucceedsWithoutChainGap()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("ae-audit-outage-").FullName;
        try
        {
            var options = new LocalPostgresOptions { DataDirectory = dataDirectory, Fsync = false };
            var server = await LocalPostgres.StartAsync(options);
            var connectionString = server.ConnectionString;
            try
            {
                await using var dataSource = NpgsqlDataSource.Create(connectionString);
                await SchemaMigrator.MigrateAsync(dataSource);
                var log = new RecordingLogger<ToolCallAuditWriter>();
                await using var writer = Writer(dataSource, o => o.WriteTimeout = WriteTimeout, log);
                var before = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => writer.AppendAsync(Record(i))));

                await server.StopAsync();
                var failure = await Assert.ThrowsAsync<ToolCallAuditException>(() => writer.AppendAsync(Record(10)).WaitAsync(Prompt));
                Assert.IsAssignableFrom<NpgsqlException>(failure.InnerException);
                await Assert.ThrowsAsync<ToolCallAuditException>(() => writer.AppendAsync(Record(11)).WaitAsync(Prompt));

                // The same cluster back on the same port: the pool's connections to the old server are dead.
                await server.DisposeAsync();
                server = await LocalPostgres.StartAsync(options with { Port = server.Port });
                var after = await Task.WhenAll(Enumerable.Range(12, 20).Select(i => writer.AppendAsync(Record(i))));

                Assert.Equal(Enumerable.Range(1, 30).Select(i => (long)i), before.Concat(after).Select(r => r.Seq).Order());
                Assert.True(writer.FailedBatchCount >= 2);
                Assert.Contains(log.Entries, e => e.EventId == 3301);
                var stream = Assert.Single(await VerifyAsync(dataSource));
                Assert.True(stream.Valid, string.Join("; ", stream.Problems));
                Assert.Equal(30, stream.Records);
                Assert.Equal(0L, await ScalarAsync<long>(dataSource, "SELECT count(*) FROM tool_call_audit WHERE request_id IN ('10', '11')"));

                // A restart while the writer is idle leaves a dead connection in the pool: the next batch notices,
                // checks the head on a fresh connection, and goes through on its second attempt.
                var failedBefore = writer.FailedBatchCount;
                await server.DisposeAsync();
                server = await LocalPostgres.StartAsync(options with { Port = server.Port });
                var retriesBefore = log.Entries.Count(e => e.EventId == 3302);
                Assert.Equal(31, (await writer.AppendAsync(Record(40))).Seq);
                Assert.Equal(failedBefore, writer.FailedBatchCount);
                Assert.Equal(retriesBefore + 1, log.Entries.Count(e => e.EventId == 3302));
                Assert.True(Assert.Single(await VerifyAsync(dataSource)).Valid);
            }
            finally
            {
                await server.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task AppendAsync_NothingListening_FailsPromptly()
    {
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = GatewayFactory.ClosedPort(),
            Username = "postgres",
            Database = "none",
        }.ConnectionString;
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var writer = Writer(dataSource, o => o.WriteTimeout = WriteTimeout);

        var failure = await Assert.ThrowsAsync<ToolCallAuditException>(() => writer.AppendAsync(Record(1)).WaitAsync(Prompt));

        Assert.IsAssignableFrom<NpgsqlException>(failure.InnerException);
        Assert.Equal(0, writer.CommitCount);
        Assert.Equal(1, writer.FailedBatchCount);
    }
}
