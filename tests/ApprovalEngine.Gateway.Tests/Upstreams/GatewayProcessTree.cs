using System.Runtime.InteropServices;
using ApprovalEngine.Gateway.Upstreams;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>
/// Everything a gateway process started, seen from outside through /proc: its descendants now, plus every live
/// process carrying one of their upstream markers or the gateway's owner record (inherited environment variables find
/// the processes that already escaped the tree, re-parented to init).
/// </summary>
internal static class GatewayProcessTree
{
    public const int SigKill = 9;

    /// <summary>Those processes, for a check that they are gone later: take it while the gateway still runs.</summary>
    public static IReadOnlyList<int> Collect(int gatewayPid)
    {
        var found = new HashSet<int>(ProcessTable.Descendants(gatewayPid));
        foreach (var pid in found.ToList())
        {
            if (Variable(pid, ProcessSweeper.MarkerVariable) is { } marker)
            {
                found.UnionWith(ProcessTable.WithEnvironment(ProcessSweeper.MarkerVariable, marker));
            }

            if (Variable(pid, OrphanedProcesses.OwnerVariable) is { } owner)
            {
                found.UnionWith(ProcessTable.WithEnvironment(OrphanedProcesses.OwnerVariable, owner));
            }
        }

        return [.. found.Order()];
    }

    /// <summary>The value of <paramref name="name"/> in the process's environment, or null.</summary>
    public static string? Variable(int pid, string name)
    {
        try
        {
            var prefix = name + "=";
            return File.ReadAllText($"/proc/{pid}/environ").Split('\0').FirstOrDefault(e => e.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone meanwhile.
            return null;
        }
    }

    /// <summary>The process's command line, for messages ("(gone)" once it exited).</summary>
    public static string CommandLine(int pid)
    {
        try
        {
            return $"{pid}: {File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim()}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{pid}: (gone)";
        }
    }

    public static string Describe(IEnumerable<int> pids) => string.Join("\n  ", pids.Select(CommandLine));

    /// <summary>Sends <paramref name="signal"/> to this one process, not its tree (unlike <c>Process.Kill(true)</c>).</summary>
    public static void Signal(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>SIGKILL to each pid still alive: the test's own leftovers after a failure, never anything else.</summary>
    public static void KillRemaining(IEnumerable<int> pids)
    {
        foreach (var pid in pids.Where(ProcessTable.IsAlive))
        {
            _ = Kill(pid, SigKill);
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}
