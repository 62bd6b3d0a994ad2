using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>
/// Finds and kills what a stdio upstream left behind. The SDK kills the process tree when it disposes a client,
/// but only while the process still runs: when a server crashes, its children (npx's node, a server's helpers)
/// are re-parented to init and escape any walk from our pid. So every upstream process is started with a random
/// marker in its environment, which descendants inherit; after a client is gone, the processes that still carry
/// that marker are ours to kill. Matching is by that unguessable value, never by a process's name.
/// </summary>
/// <remarks>
/// Linux only (it reads /proc); elsewhere it finds nothing and the SDK's tree kill is all there is. What a gateway that
/// was killed leaves behind is swept by the next gateway to start (<see cref="OrphanedProcesses"/>).
/// </remarks>
internal static class ProcessSweeper
{
    public const string MarkerVariable = "APPROVAL_ENGINE_UPSTREAM_INSTANCE";

    public static string NewMarker() => Guid.NewGuid().ToString("N");

    /// <summary>Live processes (not zombies) whose environment carries <paramref name="marker"/>.</summary>
    public static IReadOnlyList<int> Find(string marker)
    {
        if (!OperatingSystem.IsLinux())
        {
            return [];
        }

        var needle = Encoding.UTF8.GetBytes($"\0{MarkerVariable}={marker}\0");
        var self = Environment.ProcessId;
        var found = new List<int>();
        foreach (var pid in Pids())
        {
            if (pid != self && ReadEnvironment(pid) is { } environment && Contains(environment, needle))
            {
                found.Add(pid);
            }
        }

        return found;
    }

    /// <summary>Sends SIGKILL to every live process carrying <paramref name="marker"/>; returns how many it killed.</summary>
    public static int Kill(string marker)
    {
        var killed = 0;
        foreach (var pid in Find(marker))
        {
            // The pid was matched a moment ago; a process that exits and whose pid is reused by an unrelated process
            // within that moment is not a practical concern (pids are reused only after the whole range cycles).
            if (TryKill(pid))
            {
                killed++;
            }
        }

        return killed;
    }

    /// <summary>The pids of /proc, as they are listed now.</summary>
    internal static IEnumerable<int> Pids()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>Sends SIGKILL to <paramref name="pid"/>; false when it is gone or not ours to signal.</summary>
    internal static bool TryKill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
            return true;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or Win32Exception)
        {
            // Gone in between (ArgumentException, InvalidOperationException) or not ours to signal (Win32Exception):
            // either way there is nothing left to do for this pid.
            return false;
        }
    }

    /// <summary>The process's initial environment with a NUL in front, so that a needle "\0NAME=" matches the first variable too; null when unreadable.</summary>
    internal static byte[]? ReadEnvironment(int pid)
    {
        try
        {
            var bytes = File.ReadAllBytes($"/proc/{pid}/environ");
            var framed = new byte[bytes.Length + 1];
            bytes.CopyTo(framed, 1);
            return framed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Exited while we looked, or another user's process: neither can be ours.
            return null;
        }
    }

    private static bool Contains(byte[] haystack, byte[] needle)
    {
        // The last variable may lack its trailing NUL.
        return haystack.AsSpan().IndexOf(needle) >= 0
            || haystack.AsSpan().EndsWith(needle.AsSpan(0, needle.Length - 1));
    }
}
