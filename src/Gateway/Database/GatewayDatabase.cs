using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Workflows.Storage;
using Npgsql;

namespace ApprovalEngine.Gateway.Database;

/// <summary>
/// The PostgreSQL this node uses: the server named by <c>ConnectionStrings:ApprovalEngine</c>, or else an embedded
/// one run from the local server binaries. The embedded data directory persists, so pending approvals survive restarts.
/// </summary>
public sealed class GatewayDatabase : IAsyncDisposable
{
    public const string ConnectionStringName = "ApprovalEngine";
    public const string DataDirectoryKey = "ApprovalEngine:DataDirectory";
    public const string BinDirectoryKey = "ApprovalEngine:PostgresBinDirectory";

    private readonly ILoggerFactory? _loggers;

    private GatewayDatabase(string connectionString, LocalPostgres? embedded, ILoggerFactory? loggers)
    {
        ConnectionString = connectionString;
        Embedded = embedded;
        _loggers = loggers;
    }

    public static string DefaultDataDirectory { get; } = Path.Combine(".data", "postgres");

    public string ConnectionString { get; }

    /// <summary>The embedded server this process started, or null when it uses a server it does not own.</summary>
    public LocalPostgres? Embedded { get; }

    /// <summary>For the server: the configured database, or an embedded one (its cluster created on first use).</summary>
    /// <exception cref="GatewayStartupException">The connection string is malformed, or the embedded server cannot start.</exception>
    public static async Task<GatewayDatabase> StartAsync(IConfiguration configuration, CancellationToken cancellationToken = default)
    {
        if (Configured(configuration) is { } connectionString)
        {
            return new GatewayDatabase(connectionString, null, null);
        }

        // The host's loggers do not exist yet; the server also logs when it stops, so this factory lives as long as it.
        var loggers = LoggerFactory.Create(logging => logging.AddConfiguration(configuration.GetSection("Logging")).AddConsole());
        try
        {
            var server = await StartEmbeddedAsync(configuration, loggers.CreateLogger<LocalPostgres>(), cancellationToken);
            return new GatewayDatabase(server.ConnectionString, server, loggers);
        }
        catch
        {
            loggers.Dispose();
            throw;
        }
    }

    /// <summary>
    /// For commands: the configured database; else the embedded server already running on the data directory (a
    /// gateway holds it); else a start of the embedded cluster, which must exist: a command never creates one.
    /// </summary>
    public static async Task<GatewayDatabase> OpenExistingAsync(IConfiguration configuration, CancellationToken cancellationToken = default)
    {
        if (Configured(configuration) is { } connectionString)
        {
            return new GatewayDatabase(connectionString, null, null);
        }

        var dataDirectory = DataDirectory(configuration);
        if (!File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            throw new GatewayStartupException(
                $"There is no embedded database in {dataDirectory} (the gateway creates it on its first start). " +
                $"Set {DataDirectoryKey} to its directory, or ConnectionStrings:{ConnectionStringName} to use a PostgreSQL server.");
        }

        if (RunningServer.Find(dataDirectory) is { } running)
        {
            return new GatewayDatabase(running, null, null);
        }

        var server = await StartEmbeddedAsync(configuration, logger: null, cancellationToken);
        return new GatewayDatabase(server.ConnectionString, server, null);
    }

    /// <summary>Stops the embedded server, if this process started one. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Embedded is not null)
        {
            await Embedded.DisposeAsync();
        }

        _loggers?.Dispose();
    }

    private static string? Configured(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return null;
        }

        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            // Npgsql's message names the bad keyword, never the values (the password stays out of the output).
            throw new GatewayStartupException($"ConnectionStrings:{ConnectionStringName} is not a valid PostgreSQL connection string: {e.Message}", e);
        }

        return connectionString;
    }

    private static string DataDirectory(IConfiguration configuration) =>
        Path.GetFullPath(configuration[DataDirectoryKey] is { Length: > 0 } configured ? configured : DefaultDataDirectory);

    private static async Task<LocalPostgres> StartEmbeddedAsync(IConfiguration configuration, ILogger? logger, CancellationToken cancellationToken)
    {
        var options = new LocalPostgresOptions
        {
            DataDirectory = DataDirectory(configuration),
            BinDirectory = configuration[BinDirectoryKey] is { Length: > 0 } bin ? bin : null,
        };
        try
        {
            return await LocalPostgres.StartAsync(options, logger, cancellationToken);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // LocalPostgres's messages say what to do (install the binaries, or set a connection string).
            throw new GatewayStartupException(
                $"Could not start the embedded PostgreSQL (data directory {options.DataDirectory}): {e.Message}", e);
        }
    }
}
