using System.Diagnostics;
using System.Globalization;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>CPU time (user + system) of each process taking part, read before and after a segment.</summary>
public sealed record CpuTimes(TimeSpan Bench, TimeSpan Upstream, TimeSpan Gateway, TimeSpan? Postgres)
{
    public static CpuTimes operator -(CpuTimes after, CpuTimes before) => new(
        after.Bench - before.Bench,
        after.Upstream - before.Upstream,
        after.Gateway - before.Gateway,
        after.Postgres - before.Postgres);

    public static CpuTimes operator +(CpuTimes a, CpuTimes b) => new(a.Bench + b.Bench, a.Upstream + b.Upstream, a.Gateway + b.Gateway, a.Postgres + b.Postgres);

    public static CpuTimes Zero { get; } = new(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);

    public TimeSpan Total => Bench + Upstream + Gateway + (Postgres ?? TimeSpan.Zero);
}

/// <summary>
/// Reads <see cref="CpuTimes"/>: this process (the clients), the upstream, the gateway, and the local PostgreSQL
/// (postmaster and its children, from /proc; unknown for an existing server). The kernel counts in 10 ms ticks, so
/// per-call figures are meaningful over whole segments only.
/// </summary>
public sealed class CpuMeter(ChildProcess upstream, ChildProcess gateway, int? postmaster)
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public CpuTimes Read()
    {
        using var self = Process.GetCurrentProcess();
        return new CpuTimes(
            self.TotalProcessorTime,
            upstream.CpuTime,
            gateway.CpuTime,
            postmaster is { } pid && OperatingSystem.IsLinux() ? TreeCpu(pid) : null);
    }

    /// <summary>The CPU time of <paramref name="root"/> and its direct children (PostgreSQL's backends and helpers).</summary>
    private static TimeSpan? TreeCpu(int root)
    {
        var ticks = Stats(root).Sum(stat => double.Parse(stat.Fields[11], CultureInfo.InvariantCulture) + double.Parse(stat.Fields[12], CultureInfo.InvariantCulture));
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    /// <summary><paramref name="root"/> and its direct children, as running now.</summary>
    public static IEnumerable<int> Tree(int root) => Stats(root).Select(stat => stat.Pid);

    private static IEnumerable<(int Pid, string[] Fields)> Stats(int root)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // exited meanwhile
            }

            // "pid (comm) state ppid … utime stime …": the command may contain spaces and parentheses, so split after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (pid == root || int.Parse(fields[1], CultureInfo.InvariantCulture) == root)
            {
                yield return (pid, fields);
            }
        }
    }
}
