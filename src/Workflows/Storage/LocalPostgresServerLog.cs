using System.Diagnostics;

namespace ApprovalEngine.Workflows.Storage;

/// <summary>
/// The server's output: appended to a file for people and kept as a short tail for error messages.
/// Read as it arrives, so the pipe never fills and blocks the server.
/// </summary>
internal sealed class LocalPostgresServerLog : IDisposable
{
    private const int TailLines = 40;

    private readonly Lock gate = new();
    private readonly Queue<string> tail = new();
    private StreamWriter? file;

    public LocalPostgresServerLog(string path)
    {
        Path = path;
        file = new StreamWriter(path, append: true) { AutoFlush = true };
    }

    public string Path { get; }

    public void Attach(Process process)
    {
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Tail()
    {
        lock (gate)
        {
            return string.Join('\n', tail);
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            file?.Dispose();
            file = null;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (gate)
        {
            file?.WriteLine(line);
            tail.Enqueue(line);
            if (tail.Count > TailLines)
            {
                tail.Dequeue();
            }
        }
    }
}
