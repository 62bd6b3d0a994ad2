using System.Diagnostics;
using System.Globalization;
using ApprovalEngine.Workflows.Storage;
using Npgsql;

namespace ApprovalEngine.Gateway.Database;

/// <summary>The embedded server a running gateway holds on a data directory, found through its postmaster.pid.</summary>
internal static class RunningServer
{
    /// <summary>Its connection string, or null when no live server holds the directory (no file, or a stale one).</summary>
    public static string? Find(string dataDirectory)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(dataDirectory, "postmaster.pid"));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            return null;
        }

        // Line 1 is the postmaster's pid, line 4 its port (PostgreSQL's documented lock file layout).
        if (lines.Length < 4
            || !int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || !int.TryParse(lines[3], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || !IsAlive(pid))
        {
            return null;
        }

        return new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = port, Username = "postgres", Database = new LocalPostgresOptions().Database }.ConnectionString;
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
