using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>
/// Holds the current configuration and reloads it when the file changes: a file watcher (debounced) for
/// promptness, and a poll of the file's content hash every <see cref="PollInterval"/> because watchers miss
/// events on some file systems and with editors that replace files. An invalid file never replaces a valid
/// configuration: its errors are logged and kept in <see cref="LastErrors"/>.
/// </summary>
public sealed class GatewayConfigMonitor : IDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    // Editors often write a file in several steps; wait for them to finish.
    public static readonly TimeSpan DebounceDelay = TimeSpan.FromMilliseconds(200);

    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Func<string, string?> environment;
    private readonly Lock reloadGate = new();
    private GatewayConfig current;
    private IReadOnlyList<ConfigError> lastErrors = [];
    private byte[] lastHash;
    private FileSystemWatcher? watcher;
    private ITimer? debounce;
    private PeriodicTimer? poll;
    private bool disposed;

    /// <summary>Loads the file now; throws <see cref="GatewayConfigException"/> listing every error when it is invalid.</summary>
    public GatewayConfigMonitor(string path, TimeProvider time, ILogger<GatewayConfigMonitor> logger, Func<string, string?>? environment = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        this.time = time;
        this.logger = logger;
        this.environment = environment ?? Environment.GetEnvironmentVariable;
        var bytes = ReadFile(out var readError);
        var result = bytes is null
            ? new ConfigLoadResult { Errors = [readError!] }
            : GatewayConfigLoader.Parse(Decode(bytes), Path, this.environment);
        current = result.Config ?? throw new GatewayConfigException(Path, result.Errors);
        lastHash = SHA256.HashData(bytes!);
    }

    /// <summary>
    /// Raised after a valid new configuration has replaced the old one, in the order of replacement (handlers run
    /// under the reload lock, so keep them short; an exception is logged and does not undo the change).
    /// </summary>
    public event Action<GatewayConfig>? Changed;

    public string Path { get; }

    public GatewayConfig Current => Volatile.Read(ref current);

    /// <summary>The errors of the last rejected reload; empty once a valid file has been loaded.</summary>
    public IReadOnlyList<ConfigError> LastErrors => Volatile.Read(ref lastErrors);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (poll is not null)
        {
            return Task.CompletedTask;
        }

        debounce = time.CreateTimer(_ => Reload(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        try
        {
            watcher = new FileSystemWatcher(System.IO.Path.GetDirectoryName(Path)!, System.IO.Path.GetFileName(Path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
            };
            watcher.Changed += OnFileEvent;
            watcher.Created += OnFileEvent;
            watcher.Renamed += OnFileEvent;
            watcher.Error += (_, e) => logger.WatcherFailed(Path, e.GetException());
            watcher.EnableRaisingEvents = true;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            logger.WatcherFailed(Path, e);
        }

        poll = new PeriodicTimer(PollInterval, time);
        _ = PollAsync(poll);
        logger.Watching(Path);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Reads the file and applies it if its content changed and it is valid. Returns true when a new
    /// configuration was applied. Safe to call at any time (for example on SIGHUP).
    /// </summary>
    public bool Reload()
    {
        lock (reloadGate)
        {
            if (disposed)
            {
                return false;
            }

            var bytes = ReadFile(out var readError);
            if (bytes is null)
            {
                // Reported once per disappearance; an empty hash makes the file's return count as a change.
                if (lastHash.Length > 0)
                {
                    lastHash = [];
                    Reject([readError!]);
                }

                return false;
            }

            var hash = SHA256.HashData(bytes);
            if (hash.AsSpan().SequenceEqual(lastHash))
            {
                return false;
            }

            // Remembered even when invalid, so the same bad content is reported once, not every poll.
            lastHash = hash;
            var result = GatewayConfigLoader.Parse(Decode(bytes), Path, environment);
            if (result.Config is null)
            {
                Reject(result.Errors);
                return false;
            }

            Volatile.Write(ref current, result.Config);
            Volatile.Write(ref lastErrors, []);
            logger.Reloaded(Path);
            try
            {
                Changed?.Invoke(result.Config);
            }
            catch (Exception e)
            {
                logger.ChangeHandlerFailed(e);
            }

            return true;
        }
    }

    public void Dispose()
    {
        lock (reloadGate)
        {
            disposed = true;
        }

        watcher?.Dispose();
        debounce?.Dispose();
        poll?.Dispose();
    }

    private static string Decode(byte[] bytes) => new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetString(bytes).TrimStart('\uFEFF');

    private void OnFileEvent(object sender, FileSystemEventArgs e) => debounce?.Change(DebounceDelay, Timeout.InfiniteTimeSpan);

    private async Task PollAsync(PeriodicTimer timer)
    {
        // Ends when Dispose disposes the timer.
        while (await timer.WaitForNextTickAsync())
        {
            try
            {
                Reload();
            }
            catch (Exception e)
            {
                logger.WatcherFailed(Path, e);
            }
        }
    }

    private void Reject(IReadOnlyList<ConfigError> errors)
    {
        Volatile.Write(ref lastErrors, errors);
        logger.ReloadRejected(Path, errors.Count);
        foreach (var error in errors)
        {
            logger.ConfigurationError(error.ToString());
        }
    }

    private byte[]? ReadFile(out ConfigError? error)
    {
        error = null;
        try
        {
            return File.ReadAllBytes(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = new ConfigError(Path, 1, 1, string.Empty, e is FileNotFoundException ? "the file does not exist" : $"cannot read the file: {e.Message}");
            return null;
        }
    }
}
