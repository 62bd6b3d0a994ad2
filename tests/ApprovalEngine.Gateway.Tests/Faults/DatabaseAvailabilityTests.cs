using System.Diagnostics;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Database;
using ApprovalEngine.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Faults;

public sealed class DatabaseAvailabilityTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public void Cause_ConnectionFailuresAndTimeouts_AreOutagesAndRequestErrorsAreNot()
    {
        Assert.Equal("the database could not be reached", DatabaseAvailability.Cause(new NpgsqlException("refused", new System.Net.Sockets.SocketException(111))));
        Assert.Equal("the database did not answer in time", DatabaseAvailability.Cause(new NpgsqlException("slow", new TimeoutException())));
        Assert.Equal("the server refused the session (57P01)", DatabaseAvailability.Cause(Postgres("57P01")));
        Assert.Equal("the server refused the session (08006)", DatabaseAvailability.Cause(Postgres("08006")));
        Assert.Equal("the database could not be reached", DatabaseAvailability.Cause(new ToolCallAuditException("batch failed", new NpgsqlException("refused"))));
        Assert.Equal("the database did not answer in time", DatabaseAvailability.Cause(new ToolCallAuditException("batch failed", new OperationCanceledException())));
        Assert.Null(DatabaseAvailability.Cause(Postgres("23505")));
        Assert.Null(DatabaseAvailability.Cause(new ToolCallAuditException("The tool-call audit writer is stopped; the record was not written.")));
        Assert.Null(DatabaseAvailability.Cause(new InvalidOperationException("a bug")));
    }

    [Fact]
    public async Task ReportFailure_DatabaseAnswers_ProbeMarksItUpOnlyOnTheNextTick()
    {
        var clock = new ManualTimeProvider();
        await using var dataSource = NpgsqlDataSource.Create(await TestPostgres.CreateDatabaseAsync("availability", migrate: false));
        using var availability = new DatabaseAvailability(dataSource, clock, NullLogger<DatabaseAvailability>.Instance);
        await availability.StartAsync(CancellationToken.None);

        Assert.False(availability.ReportFailure(Postgres("23505")));
        Assert.False(availability.IsDown);
        Assert.True(availability.ReportFailure(new NpgsqlException("refused")));
        Assert.True(availability.ReportFailure(new NpgsqlException("refused again")));
        Assert.True(availability.IsDown);
        Assert.Equal(("the database could not be reached", 1L), (availability.Outage!.Cause, availability.OutageCount));

        // Down until the probe runs: it waits for the clock, and a database that answers ends the outage.
        await WaitAsync(() => clock.ActiveTimerCount > 0, "the probe waits for its tick");
        Assert.True(availability.IsDown);
        clock.Advance(DatabaseAvailability.ProbeInterval);
        await WaitAsync(() => !availability.IsDown, "the probe marks the database up");
        Assert.Null(availability.Outage);

        await availability.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task ReportFailure_NothingListening_StaysDownWhileProbesFail()
    {
        var clock = new ManualTimeProvider();
        var closed = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = GatewayFactory.ClosedPort(), Username = "postgres", Database = "none" };
        await using var dataSource = NpgsqlDataSource.Create(closed.ConnectionString);
        using var availability = new DatabaseAvailability(dataSource, clock, NullLogger<DatabaseAvailability>.Instance);
        await availability.StartAsync(CancellationToken.None);

        availability.ReportFailure(new NpgsqlException("refused"));
        for (var tick = 0; tick < 3; tick++)
        {
            await WaitAsync(() => clock.ActiveTimerCount > 0, "the probe waits for its tick");
            clock.Advance(DatabaseAvailability.ProbeInterval);
        }

        // Each failed probe parks on the clock again; the outage is still the first one.
        await WaitAsync(() => clock.ActiveTimerCount > 0, "the probe waits for its next tick");
        Assert.True(availability.IsDown);
        Assert.Equal(1L, availability.OutageCount);
        await availability.StopAsync(CancellationToken.None);
    }

    private static PostgresException Postgres(string sqlState) => new("message", "ERROR", "ERROR", sqlState);

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < Patience, $"never: {what}");
            await Task.Delay(10);
        }
    }
}
