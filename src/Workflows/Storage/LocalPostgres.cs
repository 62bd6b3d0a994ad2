using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ApprovalEngine.Workflows.Storage;

/// <summary>
/// A PostgreSQL cluster run from the local server binaries, listening on 127.0.0.1 only with trust
/// authentication: for the default local run and for tests, never for shared deployments.
/// The server is our direct child process, stopped by its pid; a small watchdog process stops it (and deletes a
/// temporary data directory) if this process dies first. Keep the instance alive while the server is in use.
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    private const string Loopback = "127.0.0.1";
    private const string LogFileName = "local-postgres.log";
    private const int MaxIdentifierLength = 63;
    private const int PortAttempts = 3;

    // sun_path holds 108 bytes; the socket file is "<dir>/.s.PGSQL.<port>".
    private const int MaxSocketDirectoryBytes = 107 - 16;

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReadyPollDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly Process process;
    private readonly Process watchdog;
    private readonly LocalPostgresServerLog serverLog;
    private readonly bool ownsDataDirectory;
    private readonly ILogger logger;
    private readonly Lock stopGate = new();
    private Task? stopping;

    private LocalPostgres(
        Process process, Process watchdog, LocalPostgresServerLog serverLog, string dataDirectory, int port, string database, bool ownsDataDirectory, ILogger logger)
    {
        this.process = process;
        this.watchdog = watchdog;
        this.serverLog = serverLog;
        this.ownsDataDirectory = ownsDataDirectory;
        this.logger = logger;
        Pid = process.Id;
        Port = port;
        DataDirectory = dataDirectory;
        AdminConnectionString = ConnectionStringFor("postgres");
        ConnectionString = ConnectionStringFor(database);
    }

    /// <summary>The connection string of <see cref="LocalPostgresOptions.Database"/>, as the superuser postgres.</summary>
    public string ConnectionString { get; }

    /// <summary>The connection string of the maintenance database postgres, as the superuser postgres.</summary>
    public string AdminConnectionString { get; }

    public int Port { get; }

    /// <summary>The postmaster's process id.</summary>
    public int Pid { get; }

    public string DataDirectory { get; }

    public static async Task<LocalPostgres> StartAsync(LocalPostgresOptions options, ILogger? logger = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ValidateIdentifier(options.Database, nameof(options.Database));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Port, nameof(options.Port));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Port, IPEndPoint.MaxPort, nameof(options.Port));
        if (options.Settings?.Keys.FirstOrDefault(key => key.Equals("port", StringComparison.OrdinalIgnoreCase)) is { } portKey)
        {
            throw new ArgumentException($"Set the port through {nameof(LocalPostgresOptions)}.{nameof(LocalPostgresOptions.Port)}, not Settings[\"{portKey}\"].", nameof(options));
        }

        logger ??= NullLogger.Instance;
        var binDirectory = LocalPostgresBinaries.Find(options.BinDirectory);
        var ownsDataDirectory = options.DataDirectory is null;
        var dataDirectory = ownsDataDirectory
            ? Directory.CreateTempSubdirectory("ae-pg-").FullName
            : Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.DataDirectory!));

        LocalPostgres? server = null;
        try
        {
            Directory.CreateDirectory(dataDirectory);
            if (LocalPostgresProcess.RunAsServiceUser)
            {
                await GrantToServiceUserAsync(dataDirectory, ct);
            }

            if (!File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
            {
                logger.Initializing(dataDirectory);
                await InitializeAsync(binDirectory, dataDirectory, options.Fsync, ct);
            }

            server = await LaunchAsync(binDirectory, dataDirectory, options, ownsDataDirectory, logger, ct);
            await server.CreateDatabaseAsync(options.Database, ct);
            return server;
        }
        catch
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
            else if (ownsDataDirectory)
            {
                TryDeleteDirectory(dataDirectory, logger);
            }

            throw;
        }
    }

    /// <summary>Creates the database unless it exists, and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken ct = default)
    {
        ValidateIdentifier(name, nameof(name));
        await using var connection = new NpgsqlConnection(Unpooled(AdminConnectionString));
        await connection.OpenAsync(ct);

        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
        exists.Parameters.Add(new NpgsqlParameter { Value = name });
        if (await exists.ExecuteScalarAsync(ct) is null)
        {
            // CREATE DATABASE takes no parameters; the name is a validated identifier, quoted.
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            try
            {
                await create.ExecuteNonQueryAsync(ct);
                logger.DatabaseCreated(name);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
            {
                // Created concurrently by someone else: the outcome is the one asked for.
            }
        }

        return ConnectionStringFor(name);
    }

    /// <summary>Fast shutdown by pid (SIGINT), then SIGKILL if it is not gone within ~10 s. Idempotent.</summary>
    public Task StopAsync()
    {
        lock (stopGate)
        {
            return stopping ??= StopCoreAsync();
        }
    }

    /// <summary>Stops the server and deletes the data directory if it was a temporary one.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (ownsDataDirectory)
        {
            TryDeleteDirectory(DataDirectory, logger);
        }
    }

    private static async Task<LocalPostgres> LaunchAsync(
        string binDirectory, string dataDirectory, LocalPostgresOptions options, bool ownsDataDirectory, ILogger logger, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = options.Port != 0 ? options.Port : FindFreePort();
            var serverLog = new LocalPostgresServerLog(Path.Combine(dataDirectory, LogFileName));
            var info = LocalPostgresProcess.StartInfo(
                Path.Combine(binDirectory, "postgres"), ServerArguments(dataDirectory, port, options), dataDirectory);
            Process process;
            try
            {
                process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {info.FileName}.");
            }
            catch
            {
                serverLog.Dispose();
                throw;
            }

            process.StandardInput.Close();
            serverLog.Attach(process);
            Process watchdog;
            try
            {
                watchdog = LocalPostgresProcess.StartWatchdog(process.Id, ownsDataDirectory ? dataDirectory : null);
            }
            catch
            {
                process.Kill();
                serverLog.Dispose();
                throw;
            }

            var server = new LocalPostgres(process, watchdog, serverLog, dataDirectory, port, options.Database, ownsDataDirectory, logger);

            bool ready;
            int? exitCode;
            try
            {
                (ready, exitCode) = await server.WaitUntilReadyAsync(ct);
            }
            catch
            {
                await server.StopAsync();
                throw;
            }

            if (ready)
            {
                logger.Started(server.Pid, port, dataDirectory);
                return server;
            }

            await server.StopAsync();
            var tail = serverLog.Tail();
            if (exitCode is not null && options.Port == 0 && attempt < PortAttempts && IsBindFailure(tail))
            {
                logger.PortTaken(port);
                continue;
            }

            var what = exitCode is { } code
                ? $"PostgreSQL exited with code {code} while starting"
                : $"PostgreSQL did not accept connections on 127.0.0.1:{port} within {ReadyTimeout.TotalSeconds:0} s";
            throw new InvalidOperationException($"{what}. The end of its log ({serverLog.Path}):\n{tail}");
        }
    }

    private static IEnumerable<string> ServerArguments(string dataDirectory, int port, LocalPostgresOptions options)
    {
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["listen_addresses"] = Loopback,
            ["max_connections"] = "200",
        };
        if (!options.Fsync)
        {
            settings["fsync"] = "off";
            settings["synchronous_commit"] = "off";
            settings["full_page_writes"] = "off";
        }

        foreach (var (name, value) in options.Settings ?? new Dictionary<string, string>())
        {
            settings[name] = value;
        }

        // The socket goes into the data directory, which the server's user owns; a path too long for a
        // unix socket means TCP only, which is all this class uses.
        var socketDirectory = Encoding.UTF8.GetByteCount(dataDirectory) <= MaxSocketDirectoryBytes ? dataDirectory : "";
        yield return "-D";
        yield return dataDirectory;
        yield return "-p";
        yield return port.ToString(CultureInfo.InvariantCulture);
        yield return "-k";
        yield return socketDirectory;
        foreach (var (name, value) in settings)
        {
            yield return "-c";
            yield return $"{name}={value}";
        }
    }

    private static async Task InitializeAsync(string binDirectory, string dataDirectory, bool fsync, CancellationToken ct)
    {
        // Trust on loopback only: this cluster is local and throwaway, and has no password to leak.
        List<string> arguments = ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions"];
        if (!fsync)
        {
            arguments.Add("--no-sync");
        }

        var info = LocalPostgresProcess.StartInfo(Path.Combine(binDirectory, "initdb"), arguments, dataDirectory);
        var (exitCode, output) = await LocalPostgresProcess.RunAsync(info, ct);
        if (exitCode != 0)
        {
            var hint = LocalPostgresProcess.RunAsServiceUser
                ? $" It ran as the '{LocalPostgresProcess.ServiceUser}' user because this process is root; that user needs access to the directory and all its parents."
                : "";
            throw new InvalidOperationException($"initdb failed with exit code {exitCode} for {dataDirectory}.{hint}\n{output}");
        }
    }

    private static async Task GrantToServiceUserAsync(string dataDirectory, CancellationToken ct)
    {
        var chown = LocalPostgresProcess.Redirected("chown");
        foreach (var argument in (string[])["-R", $"{LocalPostgresProcess.ServiceUser}:", dataDirectory])
        {
            chown.ArgumentList.Add(argument);
        }

        var (exitCode, output) = await LocalPostgresProcess.RunAsync(chown, ct);
        if (exitCode != 0)
        {
            throw new InvalidOperationException(
                $"This process is root, so PostgreSQL runs as the '{LocalPostgresProcess.ServiceUser}' user, but {dataDirectory} could not be given to that user: {output}");
        }

        // Folders made under the temp directory (a test's own temp folder, say) are root-only by default;
        // the server's user only needs to pass through them, not to list them.
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var tempRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(Path.GetTempPath())) + Path.DirectorySeparatorChar;
        for (var dir = Path.GetDirectoryName(dataDirectory); dir is not null && dir.StartsWith(tempRoot, StringComparison.Ordinal); dir = Path.GetDirectoryName(dir))
        {
            File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | UnixFileMode.OtherExecute);
        }
    }

    /// <summary>What the kernel does to the watchdog's pipe when this process dies; for tests.</summary>
    internal void CloseWatchdogPipe() => watchdog.StandardInput.Close();

    private async Task<(bool Ready, int? ExitCode)> WaitUntilReadyAsync(CancellationToken ct)
    {
        var probe = new NpgsqlConnectionStringBuilder(AdminConnectionString) { Pooling = false, Timeout = 2 }.ConnectionString;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ReadyTimeout)
        {
            if (process.HasExited)
            {
                return (false, process.ExitCode);
            }

            try
            {
                await using var connection = new NpgsqlConnection(probe);
                await connection.OpenAsync(ct);
                await using var command = new NpgsqlCommand("SELECT current_setting('data_directory')", connection);

                // Another server could hold this port if ours lost the race for it; only ours has our data directory.
                if (await command.ExecuteScalarAsync(ct) is string served && served == DataDirectory)
                {
                    return (true, null);
                }
            }
            catch (NpgsqlException)
            {
                // Not listening yet, or "the database system is starting up".
            }

            await Task.Delay(ReadyPollDelay, ct);
        }

        return process.HasExited ? (false, process.ExitCode) : (false, null);
    }

    private async Task StopCoreAsync()
    {
        if (!process.HasExited)
        {
            LocalPostgresProcess.Interrupt(Pid);
            if (!await WaitForExitAsync(StopTimeout))
            {
                logger.Killing(Pid, StopTimeout.TotalSeconds);
                process.Kill();
                await WaitForExitAsync(StopTimeout);
            }

            logger.Stopped(Pid);
        }

        // Only now: had this process died while stopping, the watchdog would have finished the job.
        watchdog.Kill();
        await watchdog.WaitForExitAsync();
        watchdog.Dispose();
        serverLog.Dispose();
        process.Dispose();
    }

    private async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        // Also waits for the end of the server's output, which its own children share until they exit.
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return process.HasExited;
        }
    }

    private string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = Loopback,
        Port = Port,
        Username = "postgres",
        Database = database,
    }.ConnectionString;

    private static string Unpooled(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;

    private static int FindFreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private static bool IsBindFailure(string log) =>
        log.Contains("could not bind", StringComparison.Ordinal)
        || log.Contains("could not create any TCP/IP sockets", StringComparison.Ordinal);

    private static void ValidateIdentifier(string name, string parameterName)
    {
        var valid = name.Length is > 0 and <= MaxIdentifierLength
            && (char.IsAsciiLetter(name[0]) || name[0] == '_')
            && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
        if (!valid)
        {
            throw new ArgumentException(
                $"'{name}' is not a valid database name: use 1-{MaxIdentifierLength} ASCII letters, digits and underscores, not starting with a digit.",
                parameterName);
        }
    }

    private static void TryDeleteDirectory(string path, ILogger logger)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.DeleteFailed(path, e);
        }
    }
}
