using Npgsql;

namespace ApprovalEngine.Benchmarks.Phases;

/// <summary>
/// Phase 0: what PostgreSQL itself does on this box: prepared single-row autocommit INSERTs (one durable commit each),
/// on one connection and on N. Every runtime figure is read against these.
/// </summary>
public sealed class RawBaselinePhase : IBenchPhase
{
    private const string InsertSql = "INSERT INTO bench_raw (v) VALUES ($1)";

    public string Number => "0";

    public string Title => "Baseline: raw PostgreSQL single-row transactions";

    public async Task RunAsync(BenchContext context, CancellationToken ct)
    {
        var settings = context.Settings;
        await using var dataSource = NpgsqlDataSource.Create(await context.DatabaseAsync("raw", ct));
        await using (var create = dataSource.CreateCommand("CREATE TABLE bench_raw (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v bigint NOT NULL)"))
        {
            await create.ExecuteNonQueryAsync(ct);
        }

        var one = await MeasureAsync(dataSource, 1, settings, ct);
        var many = await MeasureAsync(dataSource, settings.Concurrency, settings, ct);
        context.Report.Baseline = new Baseline(one.PerSecond, many.PerSecond, settings.Concurrency, one.Latency);
        context.Report.Add(new Measurement(Number, "Raw INSERT tx/s, 1 connection", Report.Invariant($"{one.PerSecond:N0} tx/s (commit {one.Latency})"), "baseline"));
        context.Report.Add(new Measurement(Number, $"Raw INSERT tx/s, {settings.Concurrency} connections", Report.Invariant($"{many.PerSecond:N0} tx/s"), "baseline"));
    }

    private static async Task<LoadResult> MeasureAsync(NpgsqlDataSource dataSource, int connections, BenchSettings settings, CancellationToken ct)
    {
        var commands = new List<NpgsqlCommand>();
        var opened = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < connections; i++)
            {
                var connection = await dataSource.OpenConnectionAsync(ct);
                opened.Add(connection);
                var command = new NpgsqlCommand(InsertSql, connection) { Parameters = { new NpgsqlParameter<long> { TypedValue = 0 } } };
                await command.PrepareAsync(ct);
                commands.Add(command);
            }

            long value = 0;
            async Task<bool> Insert(int client, CancellationToken token)
            {
                var command = commands[client];
                ((NpgsqlParameter<long>)command.Parameters[0]).TypedValue = Interlocked.Increment(ref value);
                await command.ExecuteNonQueryAsync(token);
                return true;
            }

            await Load.RunAsync(connections, settings.Warmup, Insert, ct);
            return await Load.RunAsync(connections, settings.PhaseDuration, Insert, ct);
        }
        finally
        {
            foreach (var command in commands)
            {
                await command.DisposeAsync();
            }

            foreach (var connection in opened)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
