using System.Diagnostics;
using System.Globalization;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>Reads the process tree from /proc (Linux), independently of the code under test.</summary>
internal static class ProcessTable
{
    /// <summary>Whether <paramref name="pid"/> is a live process (a zombie has already died; it only waits to be reaped).</summary>
    public static bool IsAlive(int pid) => State(pid) is { } state && state != 'Z' && state != 'X';

    /// <summary>Every live descendant of <paramref name="pid"/>, by parent links in /proc/*/stat.</summary>
    public static IReadOnlyList<int> Descendants(int pid)
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var candidate) && Stat(candidate) is { } stat && stat.State is not ('Z' or 'X'))
            {
                parents[candidate] = stat.Parent;
            }
        }

        var found = new List<int>();
        var frontier = new Queue<int>([pid]);
        while (frontier.TryDequeue(out var current))
        {
            foreach (var (child, parent) in parents)
            {
                if (parent == current)
                {
                    found.Add(child);
                    frontier.Enqueue(child);
                }
            }
        }

        return found;
    }

    public static int? Parent(int pid) => Stat(pid)?.Parent;

    /// <summary>Live processes whose environment has <paramref name="name"/>=<paramref name="value"/> (a tag a test gave an upstream).</summary>
    public static IReadOnlyList<int> WithEnvironment(string name, string value)
    {
        var entry = $"{name}={value}";
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || !IsAlive(pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText($"/proc/{pid}/environ").Split('\0').Contains(entry))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or not ours: not a process the test started.
            }
        }

        return found;
    }

    /// <summary>Waits until none of <paramref name="pids"/> is alive; returns those still alive after <paramref name="timeout"/>.</summary>
    public static async Task<IReadOnlyList<int>> WaitUntilGoneAsync(IEnumerable<int> pids, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        var alive = pids.ToList();
        while (true)
        {
            alive = alive.Where(IsAlive).ToList();
            if (alive.Count == 0 || watch.Elapsed > timeout)
            {
                return alive;
            }

            // Process exit has no event to await from outside the parent; poll /proc briefly.
            await Task.Delay(50);
        }
    }

    private static char? State(int pid) => Stat(pid)?.State;

    private static (char State, int Parent)? Stat(int pid)
    {
        try
        {
            // "pid (comm) S ppid ...": comm may contain spaces and parentheses, so parse after the last ')'.
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (rest[0][0], int.Parse(rest[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
