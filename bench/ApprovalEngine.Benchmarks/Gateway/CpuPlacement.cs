using System.Diagnostics;
using System.Globalization;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>Where the benchmark's processes may run.</summary>
public enum CpuMode
{
    /// <summary>Every process may use every CPU: clients, upstream, gateway and PostgreSQL compete for them.</summary>
    Shared,

    /// <summary>
    /// The gateway and its PostgreSQL on one half of the CPUs, the clients and the upstream on the other, as when the
    /// gateway runs on a host of its own. The direct path then has only the clients' half.
    /// </summary>
    Split,
}

/// <summary>
/// Pins processes to CPUs with <c>taskset</c> (util-linux): children are started under it, so every thread they make
/// inherits the set; processes already running (this one, PostgreSQL) get it for all their threads, and PostgreSQL's
/// later backends inherit it from the postmaster.
/// </summary>
public sealed class CpuPlacement
{
    private const string Taskset = "taskset";

    private CpuPlacement(CpuMode mode, string agents, string gateway)
    {
        Mode = mode;
        AgentCpus = agents;
        GatewayCpus = gateway;
    }

    public CpuMode Mode { get; }

    /// <summary>The CPU list (taskset syntax) of the clients and the upstream.</summary>
    public string AgentCpus { get; }

    /// <summary>The CPU list of the gateway and PostgreSQL.</summary>
    public string GatewayCpus { get; }

    public static CpuPlacement Shared { get; } = new(CpuMode.Shared, "", "");

    /// <summary>The lower half of the CPUs for the agents' side, the upper half for the gateway's.</summary>
    public static CpuPlacement Split()
    {
        var count = Environment.ProcessorCount;
        if (!OperatingSystem.IsLinux() || count < 2)
        {
            throw new InvalidOperationException($"--cpus split needs Linux and at least 2 CPUs (this machine: {count}).");
        }

        var half = count / 2;
        return new CpuPlacement(CpuMode.Split, Range(0, half), Range(half, count));
    }

    public string Description => Mode == CpuMode.Shared
        ? "shared: every process may use every CPU"
        : $"split: clients and upstream on CPU {AgentCpus}, gateway and PostgreSQL on CPU {GatewayCpus}";

    /// <summary>The program and arguments that start <paramref name="program"/> on the side's CPUs.</summary>
    public (string Program, IReadOnlyList<string> Arguments) Wrap(bool gatewaySide, string program, IReadOnlyList<string> arguments) =>
        Mode == CpuMode.Shared
            ? (program, arguments)
            : (Taskset, ["-c", gatewaySide ? GatewayCpus : AgentCpus, program, .. arguments]);

    /// <summary>Pins this process (the clients) to the agents' CPUs.</summary>
    public Task PinSelfAsync(CancellationToken ct) =>
        Mode == CpuMode.Shared ? Task.CompletedTask : PinAsync(Environment.ProcessId, AgentCpus, ct);

    /// <summary>Pins the postmaster and the processes it has started so far to the gateway's CPUs.</summary>
    public async Task PinDatabaseAsync(int? postmaster, CancellationToken ct)
    {
        if (Mode == CpuMode.Shared)
        {
            return;
        }

        if (postmaster is not { } root)
        {
            throw new InvalidOperationException("--cpus split needs the benchmark's own PostgreSQL (not --connection).");
        }

        foreach (var pid in CpuMeter.Tree(root))
        {
            await PinAsync(pid, GatewayCpus, ct);
        }
    }

    /// <summary>
    /// The CPUs each process may run on, read back from the kernel (<c>Cpus_allowed_list</c>), or an exception naming the
    /// first one that is not where it should be.
    /// </summary>
    public string Check(int upstream, int gateway, int? postmaster)
    {
        if (Mode == CpuMode.Shared)
        {
            return "";
        }

        List<(string Name, int Pid, string Expected)> processes =
            [("clients", Environment.ProcessId, AgentCpus), ("upstream", upstream, AgentCpus), ("gateway", gateway, GatewayCpus)];
        if (postmaster is { } root)
        {
            processes.AddRange(CpuMeter.Tree(root).Select(pid => ("PostgreSQL", pid, GatewayCpus)));
        }

        foreach (var (name, pid, expected) in processes)
        {
            var actual = AllowedCpus(pid);
            if (actual is not null && actual != expected)
            {
                throw new InvalidOperationException($"The {name} process (pid {pid}) may run on CPU {actual}, not only on {expected}.");
            }
        }

        return $"checked: clients and upstream on {AgentCpus}, gateway and {processes.Count - 3} PostgreSQL processes on {GatewayCpus}";
    }

    /// <summary>The process's CPU list, or null if it has exited.</summary>
    private static string? AllowedCpus(int pid)
    {
        try
        {
            return File.ReadLines($"/proc/{pid}/status")
                .FirstOrDefault(line => line.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))?["Cpus_allowed_list:".Length..].Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static async Task PinAsync(int pid, string cpus, CancellationToken ct)
    {
        var info = new ProcessStartInfo(Taskset) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["--all-tasks", "--cpu-list", "--pid", cpus, pid.ToString(CultureInfo.InvariantCulture)])
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start taskset.");
        var error = await process.StandardError.ReadToEndAsync(ct);
        await process.StandardOutput.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"taskset could not pin pid {pid} to CPU {cpus}: {error.Trim()}");
        }
    }

    private static string Range(int from, int to) => to - from == 1
        ? from.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{from}-{to - 1}");
}
