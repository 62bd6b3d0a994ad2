using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Storage;
using Npgsql;

namespace ApprovalEngine.Workflows.Tests.Storage;

public sealed class SchemaMigratorTests
{
    private static readonly int EmbeddedCount = typeof(SchemaMigrator).Assembly.GetManifestResourceNames()
        .Count(name => name.StartsWith("Migrations/", StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal));

    [Fact]
    public async Task MigrateAsync_FourConcurrentNodesOnFreshDatabase_ApplyEachMigrationOnce()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("migrate_concurrent", migrate: false);
        var nodes = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(connectionString)).ToArray();
        try
        {
            var applied = await Task.WhenAll(nodes.Select(node => Task.Run(() => SchemaMigrator.MigrateAsync(node))));

            Assert.True(EmbeddedCount > 0);
            Assert.Equal([0, 0, 0, EmbeddedCount], applied.Order());
            await using var command = nodes[0].CreateCommand("SELECT count(*), count(DISTINCT version) FROM ae_schema_migrations");
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(EmbeddedCount, reader.GetInt64(0));
            Assert.Equal(EmbeddedCount, reader.GetInt64(1));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task MigrateAsync_AlreadyMigratedDatabase_ReturnsZero()
    {
        await using var dataSource = NpgsqlDataSource.Create(await TestPostgres.CreateDatabaseAsync("migrate_rerun"));

        Assert.Equal(0, await SchemaMigrator.MigrateAsync(dataSource));
    }

    [Fact]
    public async Task MigrateAsync_FreshDatabase_CreatesRuntimeTables()
    {
        await using var dataSource = NpgsqlDataSource.Create(await TestPostgres.CreateDatabaseAsync("migrate_tables"));

        foreach (var table in new[] { "wf_instance", "wf_event", "wf_signal", "wf_task", "ae_schema_migrations" })
        {
            await using var command = dataSource.CreateCommand("SELECT to_regclass($1) IS NOT NULL");
            command.Parameters.Add(new NpgsqlParameter { Value = table });
            Assert.True((bool)(await command.ExecuteScalarAsync())!, $"table {table} is missing");
        }
    }

    [Fact]
    public async Task MigrateAsync_AppliedMigrationChecksumDiffers_ThrowsNamingTheFile()
    {
        await using var dataSource = NpgsqlDataSource.Create(await TestPostgres.CreateDatabaseAsync("migrate_tampered"));
        await using (var tamper = dataSource.CreateCommand("UPDATE ae_schema_migrations SET checksum = repeat('0', 64) WHERE version = 1"))
        {
            Assert.Equal(1, await tamper.ExecuteNonQueryAsync());
        }

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => SchemaMigrator.MigrateAsync(dataSource));

        Assert.Contains("Migrations/0001_workflow_runtime.sql", e.Message);
        Assert.Contains("changed after it was applied", e.Message);
    }

    [Fact]
    public async Task MigrateAsync_FailingMigration_ThrowsWithFileAndLineAndAppliesNothingOfIt()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("migrate_failing", migrate: false);
        var first = SchemaMigrator.Parse("Migrations/0001_first.sql", "CREATE TABLE first_table (id int);\n");
        var broken = SchemaMigrator.Parse("Migrations/0002_broken.sql", "CREATE TABLE second_table (id int);\nSELECT id FROM no_such_table;\n");
        var fixedUp = SchemaMigrator.Parse("Migrations/0002_broken.sql", "CREATE TABLE second_table (id int);\n");

        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(
                () => SchemaMigrator.MigrateAsync(dataSource, [first, broken], logger: null, CancellationToken.None));

            Assert.Contains("Migrations/0002_broken.sql", e.Message);
            Assert.Contains(PostgresErrorCodes.UndefinedTable, e.Message);
            Assert.Contains("line 2, column 16", e.Message);
            Assert.Equal(PostgresErrorCodes.UndefinedTable, Assert.IsType<PostgresException>(e.InnerException).SqlState);

            await using var state = dataSource.CreateCommand(
                "SELECT to_regclass('first_table') IS NOT NULL, to_regclass('second_table') IS NOT NULL, array_agg(version ORDER BY version) FROM ae_schema_migrations");
            await using var reader = await state.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.True(reader.GetBoolean(0));
            Assert.False(reader.GetBoolean(1));
            Assert.Equal([1], reader.GetFieldValue<int[]>(2));
        }

        // A fresh pool means a new session: it would wait forever if the failed run had kept the advisory lock.
        await using var retry = NpgsqlDataSource.Create(connectionString);
        var applied = await SchemaMigrator.MigrateAsync(retry, [first, fixedUp], logger: null, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(1, applied);
    }

    [Theory]
    [InlineData("UPDATE wf_event SET body = 'rewritten'")]
    [InlineData("DELETE FROM wf_event")]
    [InlineData("TRUNCATE wf_event CASCADE")]
    public async Task WfEvent_UpdateDeleteOrTruncate_RejectedWithAe001(string statement)
    {
        await using var dataSource = NpgsqlDataSource.Create(await TestPostgres.CreateDatabaseAsync("append_only"));
        await using (var seed = dataSource.CreateCommand("""
            INSERT INTO wf_instance (id, kind, business_key, state, version, data, agent_id, bundle, upstream, tool, deadline_at)
            VALUES ('00000000-0000-0000-0000-000000000001', 'approval', 'k1', 'pending', 1, '{}', 'agent', 'bundle', 'upstream', 'tool', now() + interval '1 hour');
            INSERT INTO wf_event (wf_id, seq, type, body, actor) VALUES ('00000000-0000-0000-0000-000000000001', 1, 'started', '{}', 'agent');
            """))
        {
            await seed.ExecuteNonQueryAsync();
        }

        await using var tamper = dataSource.CreateCommand(statement);
        var e = await Assert.ThrowsAsync<PostgresException>(() => tamper.ExecuteNonQueryAsync());

        Assert.Equal("AE001", e.SqlState);
        await using var count = dataSource.CreateCommand("SELECT count(*) FROM wf_event WHERE body = '{}'");
        Assert.Equal(1L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public void SplitStatements_SemicolonsInQuotesCommentsAndDollarQuotes_SplitsOnlyAtTopLevel()
    {
        const string script = """
            -- a comment; not a statement
            CREATE TABLE "odd;name" (v text DEFAULT 'a;b''c');
            /* outer /* nested; */ still comment; */
            CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $body$ BEGIN RETURN 'x;y'; END $body$;
            SELECT E'it\'s;', $$;$$, $1x;
            -- trailing comment only
            """;

        var statements = SchemaMigrator.SqlScript.Split(script);

        Assert.Equal(3, statements.Count);
        Assert.EndsWith("""CREATE TABLE "odd;name" (v text DEFAULT 'a;b''c')""", statements[0].Text);
        Assert.EndsWith("END $body$", statements[1].Text);
        Assert.EndsWith("""SELECT E'it\'s;', $$;$$, $1x""", statements[2].Text);
        foreach (var statement in statements)
        {
            Assert.Equal(statement.Text, script.Substring(statement.Offset, statement.Text.Length));
        }
    }
}
