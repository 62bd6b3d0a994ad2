namespace ApprovalEngine.Benchmarks;

/// <summary>
/// The temporary directory a benchmark's servers keep their configuration and logs in: deleted after a good run, kept
/// (and named) after a failed one, so the logs that explain it are still there.
/// </summary>
internal static class BenchWorkDirectory
{
    /// <param name="benchmark">Names the directory and the failure message ("gateway", "gated", "load").</param>
    /// <param name="run">The benchmark, given the directory; returns its exit code.</param>
    /// <param name="failed">Which exit codes keep the directory.</param>
    public static async Task<int> RunAsync(string benchmark, Func<string, Task<int>> run, Func<int, bool> failed, CancellationToken ct)
    {
        var work = Directory.CreateTempSubdirectory($"ae-bench-{benchmark}-");
        var keep = false;
        try
        {
            var exitCode = await run(work.FullName);
            keep = failed(exitCode);
            return exitCode;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // A server that did not start: its message already carries the end of its log.
            await Console.Error.WriteLineAsync($"\nThe {benchmark} benchmark failed: {e.Message}");
            keep = true;
            return 1;
        }
        finally
        {
            if (keep)
            {
                await Console.Error.WriteLineAsync($"The servers' logs and configuration are kept in {work.FullName}.");
            }
            else
            {
                work.Delete(recursive: true);
            }
        }
    }
}
