using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Gateway.Tests.Configuration;
using ApprovalEngine.Workflows.Storage;
using Npgsql;
using static ApprovalEngine.Gateway.Tests.Audit.AuditFixtures;

namespace ApprovalEngine.Gateway.Tests.Faults;

/// <summary>
/// <c>policy.onDatabaseUnavailable: allow</c>: audit records held in memory while the database is away, bounded, and
/// written in one valid chain when it returns. Its own cluster: the shared one must stay up.
/// </summary>
public sealed class HeldAuditRecordsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task TryHold_DatabaseStoppedThenRestarted_HoldsUpToTheCapacityAndWritesThemInOrderInAValidChain()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("ae-audit-held-").FullName;
        var options = new LocalPostgresOptions { DataDirectory = dataDirectory, Fsync = false };
        var server = await LocalPostgres.StartAsync(options);
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(server.ConnectionString);
            await SchemaMigrator.MigrateAsync(dataSource);
            await using var writer = Writer(dataSource, o => (o.MaxBatchSize, o.QueueCapacity) = (4, 8));
            await Task.WhenAll(Enumerable.Range(0, 2).Select(i => writer.AppendAsync(Record(i))));

            await server.StopAsync();
            var held = Enumerable.Range(2, 9).Select(i => writer.TryHold(Record(i))).ToList();
            var heldWhileDown = writer.HeldCount;
            var canHoldWhenFull = writer.CanHold;

            // The loop tries them at once and every second: they stay held, none is lost or doubled.
            await Task.Delay(ToolCallAuditWriter.HeldRetryInterval * 2);
            var heldAfterRetries = writer.HeldCount;
            await server.DisposeAsync();
            server = await LocalPostgres.StartAsync(options with { Port = server.Port });
            await UntilAsync(() => writer.HeldCount == 0, "the held records are written");

            Assert.Equal([.. Enumerable.Repeat(true, 8), false], held);
            Assert.Equal((8, false, 8), (heldWhileDown, canHoldWhenFull, heldAfterRetries));
            Assert.True(writer.CanHold);
            Assert.Equal(
                Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                await RequestIdsInSeqOrderAsync(dataSource));
            var stream = Assert.Single(await VerifyAsync(dataSource));
            Assert.True(stream.Valid, string.Join("; ", stream.Problems.Select(p => p.Detail)));
            Assert.Equal(10, stream.Records);
            Assert.Equal(10, (await writer.AppendAsync(Record(10))).Seq - 1);
        }
        finally
        {
            await server.DisposeAsync();
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public void Parse_OnDatabaseUnavailable_DenyByDefaultAllowWhenSaidAndAnythingElseIsAnErrorAtItsPlace()
    {
        var byDefault = ConfigTestFiles.Parse("upstreams: {}\npolicy:\n  default: allow\n");
        var allow = ConfigTestFiles.Parse("upstreams: {}\npolicy:\n  default: allow\n  onDatabaseUnavailable: allow\n");
        var wrong = ConfigTestFiles.Parse("upstreams: {}\npolicy:\n  default: allow\n  onDatabaseUnavailable: wait\n");

        Assert.Equal(DatabaseOutagePolicy.Deny, byDefault.Config!.Policy.OnDatabaseUnavailable);
        Assert.Equal(DatabaseOutagePolicy.Deny, PolicyConfig.AllowAll.OnDatabaseUnavailable);
        Assert.Equal(DatabaseOutagePolicy.Allow, allow.Config!.Policy.OnDatabaseUnavailable);
        Assert.Equal("gateway.yaml:4:26: policy.onDatabaseUnavailable: must be one of: deny, allow (got \"wait\")", Assert.Single(wrong.Errors).ToString());
    }

    private static async Task<List<string>> RequestIdsInSeqOrderAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT request_id FROM tool_call_audit ORDER BY seq");
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<string>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < Patience, $"never: {what}");
            await Task.Delay(20);
        }
    }
}
