using System.Diagnostics;
using System.Globalization;
using ApprovalEngine.Gateway.Upstreams;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>Which processes the start-up sweep judges left behind: only those whose recorded gateway is provably gone.</summary>
public sealed class OrphanedProcessesTests
{
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(10);

    [Fact]
    public void CurrentOwner_ThisProcess_PidStartTimeAndNamespaceFromProc()
    {
        var parts = OrphanedProcesses.CurrentOwner!.Split(':');

        var stat = File.ReadAllText("/proc/self/stat");
        Assert.Equal(Environment.ProcessId.ToString(CultureInfo.InvariantCulture), parts[0]);
        Assert.Equal(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19], parts[1]);
        Assert.Equal($"pid:[{parts[2]}]", new FileInfo("/proc/self/ns/pid").LinkTarget);
    }

    [Fact]
    public async Task Kill_RecordedOwners_KillsOnlyThoseOfGatewaysThatAreGone()
    {
        var self = OrphanedProcesses.CurrentOwner!.Split(':');
        var (pid, start, ns) = (self[0], ulong.Parse(self[1], CultureInfo.InvariantCulture), self[2]);
        var gone = UnusedPid();
        var processes = new Dictionary<string, Process>();
        try
        {
            // Left behind: the owner's pid is free, or it now names another process (same pid, later start).
            processes["pid gone"] = Start($"{gone}:{start}:{ns}");
            processes["pid reused"] = Start($"{pid}:{start + 1}:{ns}");

            // Not ours to judge: this process is alive; another namespace's pids mean nothing here; a record we cannot read.
            processes["owner alive"] = Start($"{pid}:{start}:{ns}");
            processes["other namespace"] = Start($"{gone}:{start}:4026000000");
            processes["malformed"] = Start($"{gone}:soon:{ns}");
            processes["no record"] = Start(null);

            var killed = OrphanedProcesses.Kill();

            Assert.Contains(processes["pid gone"].Id, killed);
            Assert.Contains(processes["pid reused"].Id, killed);
            Assert.Empty(await ProcessTable.WaitUntilGoneAsync([processes["pid gone"].Id, processes["pid reused"].Id], ExitGrace));
            foreach (var spared in (string[])["owner alive", "other namespace", "malformed", "no record"])
            {
                Assert.DoesNotContain(processes[spared].Id, killed);
                Assert.True(ProcessTable.IsAlive(processes[spared].Id), $"the process with '{spared}' was killed");
            }
        }
        finally
        {
            foreach (var process in processes.Values)
            {
                if (!process.HasExited)
                {
                    process.Kill();
                }

                process.Dispose();
            }
        }
    }

    private static Process Start(string? owner)
    {
        var info = new ProcessStartInfo(Peers.Node) { UseShellExecute = false };
        info.ArgumentList.Add("-e");
        info.ArgumentList.Add("setInterval(() => {}, 1 << 30)");
        if (owner is not null)
        {
            info.Environment[OrphanedProcesses.OwnerVariable] = owner;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("node did not start");
    }

    private static int UnusedPid()
    {
        // Far above the pids in use; checked free. A process could take it before the sweep looks, which the
        // assertion on "pid gone" would then report; the range makes that practically impossible.
        var pid = 3_000_000 + Random.Shared.Next(100_000);
        while (Directory.Exists($"/proc/{pid}"))
        {
            pid++;
        }

        return pid;
    }
}
