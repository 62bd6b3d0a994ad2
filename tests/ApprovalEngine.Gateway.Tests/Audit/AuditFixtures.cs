using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Audit;

/// <summary>Records, writers and a superuser "attacker" for the audit tests.</summary>
internal static class AuditFixtures
{
    public static readonly DateTimeOffset Epoch = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public static ToolCallRecord Record(
        int i,
        string agent = "agent-1",
        string bundle = "default",
        string upstream = "filesystem",
        string tool = "write_file",
        string decision = ToolCallDecision.Allow,
        string outcome = ToolCallOutcome.Ok,
        DateTimeOffset? startedAt = null) => new()
        {
            AgentId = agent,
            Bundle = bundle,
            Upstream = upstream,
            Tool = tool,
            ToolName = $"{upstream}__{tool}",
            ArgumentsDigest = ArgumentDigest.Compute(Json($$"""{"path":"/tmp/{{i}}"}""")),
            RedactedArguments = $$"""{"path":"/tmp/{{i}}"}""",
            Decision = decision,
            Rule = decision == ToolCallDecision.Allow ? null : "writes-need-approval",
            Outcome = outcome,
            Duration = TimeSpan.FromMilliseconds(3 + (i % 7)),
            Error = outcome == ToolCallOutcome.Ok ? null : "the upstream said no",
            SessionId = "session-1",
            RequestId = i.ToString(System.Globalization.CultureInfo.InvariantCulture),
            StartedAt = startedAt ?? Epoch.AddSeconds(i),
        };

    public static System.Text.Json.JsonElement Json(string json)
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    public static ToolCallAuditWriter Writer(
        NpgsqlDataSource dataSource, Action<ToolCallAuditOptions>? configure = null, ILogger<ToolCallAuditWriter>? logger = null)
    {
        var options = new ToolCallAuditOptions { Node = "test-node" };
        configure?.Invoke(options);
        return new ToolCallAuditWriter(dataSource, Options.Create(options), TimeProvider.System, logger ?? NullLogger<ToolCallAuditWriter>.Instance);
    }

    public static async Task<List<AuditStreamVerification>> VerifyAsync(NpgsqlDataSource dataSource, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var results = new List<AuditStreamVerification>();
        await foreach (var stream in new ToolCallAuditVerifier(dataSource).VerifyAsync(from, to))
        {
            results.Add(stream);
        }

        return results;
    }

    /// <summary>What an attacker with superuser rights can do: run SQL with the append-only triggers switched off.</summary>
    public static async Task<int> TamperAsync(string connectionString, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(TestPostgres.SuperuserConnectionString(connectionString));
        await connection.OpenAsync();
        await using (var replica = new NpgsqlCommand("SET session_replication_role = replica", connection))
        {
            await replica.ExecuteNonQueryAsync();
        }

        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Blocks every insert into the audit table until disposed (a SHARE lock conflicts with inserts), so a test can
    /// hold the writer mid-batch while more records queue up behind it, with no timing involved.
    /// </summary>
    public static async Task<IAsyncDisposable> HoldInsertsAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("LOCK TABLE tool_call_audit IN SHARE MODE", connection, transaction))
        {
            await command.ExecuteNonQueryAsync();
        }

        return new Hold(connection, transaction);
    }

    public static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }

    private sealed class Hold(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await transaction.RollbackAsync();
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}

/// <summary>Keeps the event ids (and messages) logged, so a test can tell which path the writer took.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<(int EventId, string Message)> entries = new();

    public IReadOnlyList<(int EventId, string Message)> Entries => [.. entries];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        entries.Enqueue((eventId.Id, formatter(state, exception)));
}
