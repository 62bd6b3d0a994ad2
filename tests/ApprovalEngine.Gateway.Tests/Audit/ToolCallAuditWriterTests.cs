using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Testing;
using Npgsql;
using static ApprovalEngine.Gateway.Tests.Audit.AuditFixtures;

namespace ApprovalEngine.Gateway.Tests.Audit;

public sealed class ToolCallAuditWriterTests
{
    [Fact]
    public async Task AppendAsync_Returned_RecordIsReadableFromAnotherConnection()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("audit_durable");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var writer = Writer(dataSource);
        // A separate pool: the row must be visible to any session, which only a commit makes it.
        await using var reader = NpgsqlDataSource.Create(connectionString);

        for (var i = 1; i <= 5; i++)
        {
            var record = Record(i, decision: ToolCallDecision.Deny, outcome: ToolCallOutcome.Denied);
            var receipt = await writer.AppendAsync(record);

            await using var command = reader.CreateCommand("""
                SELECT stream_id, seq, agent_id, tool_name, decision, outcome, arguments::text, at, duration_us, request_id
                FROM tool_call_audit WHERE id = $1
                """);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = receipt.Id });
            await using var row = await command.ExecuteReaderAsync();
            Assert.True(await row.ReadAsync(), $"record {i} is not readable after AppendAsync returned");
            Assert.Equal(writer.StreamId, row.GetGuid(0));
            Assert.Equal(i, row.GetInt64(1));
            Assert.Equal(receipt, new ToolCallAuditReceipt(receipt.Id, row.GetGuid(0), row.GetInt64(1)));
            Assert.Equal((record.AgentId, record.ToolName, record.Decision, record.Outcome, record.RedactedArguments),
                (row.GetString(2), row.GetString(3), row.GetString(4), row.GetString(5), row.GetString(6)));
            Assert.Equal(record.StartedAt, row.GetFieldValue<DateTimeOffset>(7));
            Assert.Equal((long)record.Duration.TotalMicroseconds, row.GetInt64(8));
            Assert.Equal(record.RequestId, row.GetString(9));
        }

        Assert.Equal(5, writer.CommitCount);
    }

    [Fact]
    public async Task AppendAsync_1000Concurrent_StoredOnceWithContiguousSeqsInFarFewerCommits()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("audit_group");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var writer = Writer(dataSource);

        var receipts = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => Task.Run(() => writer.AppendAsync(Record(i)))));

        Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), receipts.Select(r => r.Seq).Order());
        Assert.Equal(1000, receipts.Select(r => r.Id).Distinct().Count());
        Assert.Equal(1000L, await ScalarAsync<long>(dataSource, "SELECT count(*) FROM tool_call_audit"));
        Assert.Equal(1000L, await ScalarAsync<long>(dataSource, "SELECT count(DISTINCT request_id) FROM tool_call_audit"));
        Assert.Equal(1000L, await ScalarAsync<long>(dataSource, "SELECT max(seq) FROM tool_call_audit WHERE stream_id = $1", writer.StreamId));
        Assert.Equal(1000L, await ScalarAsync<long>(dataSource, "SELECT last_seq FROM tool_call_audit_stream WHERE stream_id = $1", writer.StreamId));
        var stream = Assert.Single(await VerifyAsync(dataSource));
        Assert.True(stream.Valid, string.Join("; ", stream.Problems));
        Assert.Equal(1000, stream.Records);
        Assert.Equal(1000, writer.RecordCount);
        Assert.True(writer.CommitCount < 100, $"{writer.CommitCount} commits for 1000 records: no group commit");
    }

    [Fact]
    public async Task AppendAsync_TwoWriters_EachHasItsOwnValidStream()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("audit_two");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var first = Writer(dataSource);
        await using var second = Writer(dataSource);

        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => (i % 2 == 0 ? first : second).AppendAsync(Record(i))));

        var streams = await VerifyAsync(dataSource);
        Assert.Equal(2, streams.Count);
        Assert.All(streams, s => Assert.True(s.Valid));
        Assert.All(streams, s => Assert.Equal(100, s.Records));
        Assert.Equal(new[] { first.StreamId, second.StreamId }.Order(), streams.Select(s => s.StreamId).Order());
    }

    [Fact]
    public async Task AppendAsync_BatchFailsOnTheServer_WholeBatchFailsNothingStoredAndChainContinuesWithoutGap()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("audit_poison");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var writer = Writer(dataSource);
        await writer.AppendAsync(Record(0));

        // A server-side failure in the middle of a multi-record batch: a trigger rejects one record.
        await using (var admin = NpgsqlDataSource.Create(TestPostgres.SuperuserConnectionString(connectionString)))
        await using (var create = admin.CreateCommand("""
            CREATE FUNCTION reject_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.tool = 'poison' THEN RAISE EXCEPTION 'poisoned record'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER reject_poison BEFORE INSERT ON tool_call_audit FOR EACH ROW EXECUTE FUNCTION reject_poison();
            """))
        {
            await create.ExecuteNonQueryAsync();
        }

        List<Task<ToolCallAuditReceipt>> tasks;
        await using (await HoldInsertsAsync(connectionString))
        {
            // Whatever the first batch took waits on the lock; the rest queue up and go together in the next one, so the
            // poisoned record shares its batch with others either way.
            tasks = Enumerable.Range(1, 60).Select(i => writer.AppendAsync(Record(i, tool: i == 30 ? "poison" : $"tool-{i}"))).ToList();
        }

        await Task.WhenAll(tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));

        var poisoned = tasks[29];
        var error = await Assert.ThrowsAsync<ToolCallAuditException>(() => poisoned);
        Assert.IsType<PostgresException>(error.InnerException);
        var succeeded = tasks.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).ToList();
        var failed = tasks.Where(t => t.IsFaulted).ToList();
        Assert.Equal(60, succeeded.Count + failed.Count);
        Assert.True(failed.Count >= 2, "the records batched with the poisoned one must fail with it");
        Assert.All(failed, t => Assert.IsType<ToolCallAuditException>(t.Exception!.InnerException));
        Assert.True(writer.FailedBatchCount >= 1);

        // Exactly the confirmed records are stored: the failed batch left nothing behind.
        Assert.Equal(1L + succeeded.Count, await ScalarAsync<long>(dataSource, "SELECT count(*) FROM tool_call_audit"));
        Assert.Equal(0L, await ScalarAsync<long>(dataSource, "SELECT count(*) FROM tool_call_audit WHERE tool = 'poison'"));

        // The chain did not advance over the failed batch: later records continue it without a gap.
        var after = await writer.AppendAsync(Record(100));
        Assert.Equal(2L + succeeded.Count, after.Seq);
        var stream = Assert.Single(await VerifyAsync(dataSource));
        Assert.True(stream.Valid, string.Join("; ", stream.Problems));
        Assert.Equal((1, 2L + succeeded.Count), (stream.FirstSeq, stream.LastSeq));
    }

    [Fact]
    public async Task AppendAsync_TextPostgresCannotStore_IsCleanedAndDoesNotFailItsBatch()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("audit_text");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var writer = Writer(dataSource);

        var odd = Record(1) with { Error = "nul\0here", RequestId = "lone\uD800surrogate", Tool = new string('t', 2000) };
        var results = await Task.WhenAll(writer.AppendAsync(odd), writer.AppendAsync(Record(2)), writer.AppendAsync(Record(3)));

        await using var command = dataSource.CreateCommand("SELECT error, request_id, length(tool) FROM tool_call_audit WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = results[0].Id });
        await using var row = await command.ExecuteReaderAsync();
        Assert.True(await row.ReadAsync());
        Assert.Equal("nul\uFFFDhere", row.GetString(0));
        Assert.Equal("lone\uFFFDsurrogate", row.GetString(1));
        Assert.True(row.GetInt32(2) < 600);
        Assert.True(Assert.Single(await VerifyAsync(dataSource)).Valid);
    }

    [Theory]
    [InlineData("agent")]
    [InlineData("arguments")]
    [InlineData("duration")]
    public async Task AppendAsync_InvalidRecord_ThrowsToItsCallerOnly(string defect)
    {
        await using var dataSource = NpgsqlDataSource.Create(await TestPostgres.CreateDatabaseAsync("audit_invalid"));
        await using var writer = Writer(dataSource);
        var record = defect switch
        {
            "agent" => Record(1) with { AgentId = " " },
            "arguments" => Record(1) with { RedactedArguments = "{not json" },
            _ => Record(1) with { Duration = TimeSpan.FromSeconds(-1) },
        };

        await Assert.ThrowsAnyAsync<ArgumentException>(() => writer.AppendAsync(record));

        Assert.Equal(1, (await writer.AppendAsync(Record(2))).Seq);
    }

    [Fact]
    public async Task StopAsync_WithQueuedRecords_WritesThemAllThenRefusesMore()
    {
        await using var dataSource = NpgsqlDataSource.Create(await TestPostgres.CreateDatabaseAsync("audit_drain"));
        var writer = Writer(dataSource, o => o.MaxBatchSize = 8);
        var appends = Enumerable.Range(0, 300).Select(i => writer.AppendAsync(Record(i))).ToList();

        await writer.StopAsync();

        var receipts = await Task.WhenAll(appends);
        Assert.Equal(300, receipts.Select(r => r.Seq).Distinct().Count());
        Assert.Equal(300L, await ScalarAsync<long>(dataSource, "SELECT count(*) FROM tool_call_audit"));
        await Assert.ThrowsAsync<ToolCallAuditException>(() => writer.AppendAsync(Record(301)));
        await writer.DisposeAsync();
    }

    [Fact]
    public async Task AppendAsync_CallerCancelsWhileWaiting_RecordIsStillWritten()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("audit_cancel");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var writer = Writer(dataSource);
        using var cancel = new CancellationTokenSource();
        var record = Record(1) with { RequestId = "cancelled-caller" };

        await using (await HoldInsertsAsync(connectionString))
        {
            var append = writer.AppendAsync(record, cancel.Token);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => append);
        }

        // One loop, in order: once the next append is committed, the cancelled caller's record is stored too.
        await writer.AppendAsync(Record(2));
        Assert.Equal(1L, await ScalarAsync<long>(dataSource, "SELECT count(*) FROM tool_call_audit WHERE request_id = 'cancelled-caller'"));
    }
}
