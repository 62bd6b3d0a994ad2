using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ApprovalEngine.Testing;

/// <summary>Child-process plumbing for <see cref="NodePeers"/>: bounded runs, and stopping by pid.</summary>
internal static class PeerProcess
{
    private const int SigTerm = 15;
    private static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(5);

    internal static ProcessStartInfo StartInfo(string program, IEnumerable<string> arguments, string workingDirectory)
    {
        var info = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    /// <summary>
    /// Runs a program to completion within <paramref name="timeout"/>; on timeout or cancellation it kills the
    /// program's process tree (by pid) and throws, with whatever output there was.
    /// </summary>
    internal static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        ProcessStartInfo info, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {info.FileName}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(OutputDrainTimeout, CancellationToken.None);
            var output = $"stdout: {await Drain(stdout)}\nstderr: {await Drain(stderr)}";
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{Describe(info)} did not finish within {timeout.TotalSeconds:0.#} s and was killed.\n{output}");
        }

        return (process.ExitCode, await Drain(stdout), await Drain(stderr));
    }

    /// <summary>
    /// Asks a program to stop (SIGTERM, and its standard input closed), then kills its process tree if it is
    /// still running after <paramref name="grace"/>. Only ever this process and its descendants.
    /// </summary>
    internal static async Task StopAsync(Process process, TimeSpan grace)
    {
        if (process.HasExited)
        {
            return;
        }

        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The pipe is already broken: the process is on its way out.
        }

        if (!OperatingSystem.IsWindows())
        {
            _ = Kill(process.Id, SigTerm);
        }

        using var graceful = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(graceful.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(OutputDrainTimeout, CancellationToken.None);
        }
    }

    internal static string Describe(ProcessStartInfo info) =>
        string.Join(' ', info.ArgumentList.Prepend(info.FileName).Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a));

    // A grandchild that inherited the pipes (a stdio server the client launched) may hold them open a little
    // longer than the child itself; never wait for it unboundedly.
    private static async Task<string> Drain(Task<string> read)
    {
        try
        {
            return await read.WaitAsync(OutputDrainTimeout, CancellationToken.None);
        }
        catch (TimeoutException)
        {
            return "(output still open after the process exited)";
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}
