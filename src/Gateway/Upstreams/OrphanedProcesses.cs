using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>
/// What a killed gateway leaves behind. A gateway that is stopped disposes its upstreams; one that is killed
/// (SIGKILL, the OOM killer) cannot. Its stdio servers then see the end of their input, and most exit, but a server that
/// ignores it, and whatever a server or a launcher such as npx started, stay, re-parented to init. So every upstream
/// process carries the identity of the gateway that started it (pid, start time and pid namespace, inherited by its
/// descendants), and a gateway at start kills the processes whose recorded gateway is no longer running: its pid gone,
/// a zombie, or reused by a process with another start time. Only that record decides, never a process's name; a
/// process whose gateway runs, or whose record cannot be judged here (another pid namespace, a malformed value), is
/// left alone.
/// </summary>
/// <remarks>
/// PR_SET_PDEATHSIG would end the children together with the gateway, but it fires when the thread that forked exits,
/// and .NET starts processes from whatever thread-pool thread runs the code. Linux only (it reads /proc).
/// </remarks>
internal static class OrphanedProcesses
{
    public const string OwnerVariable = "APPROVAL_ENGINE_UPSTREAM_OWNER";

    private static readonly byte[] OwnerPrefix = Encoding.UTF8.GetBytes($"\0{OwnerVariable}=");

    private static readonly Lazy<string?> Current = new(() => ReadIdentity(Environment.ProcessId)?.ToString());

    /// <summary>This process's identity, the value its upstreams carry in <see cref="OwnerVariable"/>; null where it cannot be read.</summary>
    public static string? CurrentOwner => Current.Value;

    /// <summary>Sends SIGKILL to every live process whose recorded gateway is no longer running; returns their pids.</summary>
    public static IReadOnlyList<int> Kill()
    {
        var killed = new List<int>();
        foreach (var (pid, start) in Find())
        {
            // Checked again just before the signal: the pid must still be the process that was judged.
            if (ReadIdentity(pid) is not { } now || now.StartTicks != start)
            {
                continue;
            }

            if (ProcessSweeper.TryKill(pid))
            {
                killed.Add(pid);
            }
        }

        return killed;
    }

    private static List<(int Pid, ulong Start)> Find()
    {
        var found = new List<(int, ulong)>();
        if (!OperatingSystem.IsLinux() || ReadIdentity(Environment.ProcessId) is not { } self)
        {
            return found;
        }

        // A gateway that is itself an upstream of another (nested) carries that gateway's record; neither it nor the
        // processes that started it are ever its own to sweep.
        var spared = Ancestors(self.Pid);
        foreach (var pid in ProcessSweeper.Pids())
        {
            if (spared.Contains(pid)
                || ProcessSweeper.ReadEnvironment(pid) is not { } environment
                || OwnerOf(environment) is not { } owner
                || owner.Namespace != self.Namespace
                || IsRunning(owner)
                || ReadIdentity(pid) is not { } candidate)
            {
                continue;
            }

            found.Add((pid, candidate.StartTicks));
        }

        return found;
    }

    private static HashSet<int> Ancestors(int pid)
    {
        var chain = new HashSet<int> { pid };
        while (ReadStat(pid) is { Parent: > 1 } stat && chain.Add(stat.Parent))
        {
            pid = stat.Parent;
        }

        return chain;
    }

    private static bool IsRunning(ProcessIdentity owner) =>
        ReadIdentity(owner.Pid) is { } now && now.StartTicks == owner.StartTicks;

    private static ProcessIdentity? OwnerOf(byte[] environment)
    {
        var span = environment.AsSpan();
        var at = span.IndexOf(OwnerPrefix);
        if (at < 0)
        {
            return null;
        }

        var value = span[(at + OwnerPrefix.Length)..];
        var end = value.IndexOf((byte)0);
        return ProcessIdentity.TryParse(Encoding.UTF8.GetString(end < 0 ? value : value[..end]));
    }

    /// <summary>The identity of a live process (not a zombie), or null.</summary>
    private static ProcessIdentity? ReadIdentity(int pid)
    {
        if (ReadStat(pid) is not { } stat || stat.State is 'Z' or 'X')
        {
            return null;
        }

        try
        {
            // "pid:[4026531836]": pids are only comparable within one namespace.
            var link = new FileInfo($"/proc/{pid}/ns/pid").LinkTarget;
            return link is null ? null : new ProcessIdentity(pid, stat.StartTicks, link.Replace("pid:", "", StringComparison.Ordinal).Trim('[', ']'));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static (char State, int Parent, ulong StartTicks)? ReadStat(int pid)
    {
        try
        {
            // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so fields are counted after the last ')'.
            // There, index 0 is the state (field 3), 1 the parent (field 4) and 19 the start time (field 22).
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture), ulong.Parse(fields[19], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Exited while we looked, or hidden from us.
            return null;
        }
    }

    /// <summary>A process as the kernel names it: a pid is reused, the pair with its start time (clock ticks since boot) is not.</summary>
    private sealed record ProcessIdentity(int Pid, ulong StartTicks, string Namespace)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Pid}:{StartTicks}:{Namespace}");

        public static ProcessIdentity? TryParse(string text)
        {
            var parts = text.Split(':');
            return parts.Length == 3
                && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                && parts[2].Length > 0
                    ? new ProcessIdentity(pid, start, parts[2])
                    : null;
        }
    }
}

/// <summary>Kills what killed gateways left behind (<see cref="OrphanedProcesses"/>) before this gateway starts its own upstreams.</summary>
internal sealed class OrphanSweepService(ILogger<OrphanSweepService> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var killed = OrphanedProcesses.Kill();
        if (killed.Count > 0)
        {
            logger.KilledOrphans(killed.Count, string.Join(", ", killed));
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

internal static partial class OrphanSweepLog
{
    [LoggerMessage(EventId = 3470, Level = LogLevel.Warning, Message = "Killed {Count} upstream process(es) left behind by a gateway that is no longer running (it was killed, not stopped): pids {Pids}")]
    internal static partial void KilledOrphans(this ILogger logger, int count, string pids);
}
