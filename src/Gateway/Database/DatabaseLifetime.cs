using Npgsql;

namespace ApprovalEngine.Gateway.Database;

/// <summary>
/// Says which database this node uses and stops the embedded server when the host stops. Registered before the
/// workflow runtime, so it stops after it: the runtime finishes its work while the database is still up.
/// </summary>
internal sealed partial class DatabaseLifetime(GatewayDatabase database, ILogger<DatabaseLifetime> logger) : IHostedService, IAsyncDisposable
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (database.Embedded is { } server)
        {
            LogEmbedded(server.Port, server.Pid, server.DataDirectory);
        }
        else
        {
            // Host, port and database only: the connection string may hold a password.
            var settings = new NpgsqlConnectionStringBuilder(database.ConnectionString);
            LogServer(settings.Host ?? "", settings.Port, settings.Database ?? "");
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (database.Embedded is { } server)
        {
            await database.DisposeAsync();
            LogEmbeddedStopped(server.Pid);
        }
    }

    // Also when the host fails to start or is disposed without stopping.
    public ValueTask DisposeAsync() => database.DisposeAsync();

    [LoggerMessage(3000, LogLevel.Information,
        "Using the embedded PostgreSQL on 127.0.0.1:{Port} (pid {Pid}), data in {DataDirectory}; set ConnectionStrings:ApprovalEngine to use another server")]
    private partial void LogEmbedded(int port, int pid, string dataDirectory);

    [LoggerMessage(3001, LogLevel.Information, "Using PostgreSQL at {Host}:{Port}, database {Database}")]
    private partial void LogServer(string host, int port, string database);

    [LoggerMessage(3002, LogLevel.Information, "Embedded PostgreSQL (pid {Pid}) stopped")]
    private partial void LogEmbeddedStopped(int pid);
}
