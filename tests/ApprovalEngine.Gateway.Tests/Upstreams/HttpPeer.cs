using System.Diagnostics;
using System.Globalization;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

/// <summary>
/// A Streamable HTTP MCP server run by node on a free 127.0.0.1 port: the server prints "LISTENING &lt;port&gt;" once
/// it listens (our fixture on stdout, server-everything on stderr through the loopback-listen preload).
/// </summary>
internal sealed class HttpPeer : IAsyncDisposable
{
    private readonly Process process;
    private int disposed;

    private HttpPeer(Process process, int port)
    {
        this.process = process;
        Url = new Uri($"http://127.0.0.1:{port}/mcp");
    }

    public Uri Url { get; }

    public int ProcessId => process.Id;

    public static Task<HttpPeer> StartEverythingAsync() =>
        StartAsync(["--import", Peers.LoopbackListen, Peers.ServerEverything, "streamableHttp"], new Dictionary<string, string> { ["PORT"] = "0" });

    public static Task<HttpPeer> StartFixtureAsync(IReadOnlyDictionary<string, string>? env = null) =>
        StartAsync([Peers.Fixture, "http"], env ?? new Dictionary<string, string>());

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private static async Task<HttpPeer> StartAsync(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> env)
    {
        var start = new ProcessStartInfo(Peers.Node)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in env)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is { } line && line.StartsWith("LISTENING ", StringComparison.Ordinal))
            {
                listening.TrySetResult(int.Parse(line["LISTENING ".Length..], CultureInfo.InvariantCulture));
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _ = process.WaitForExitAsync().ContinueWith(_ => listening.TrySetException(new InvalidOperationException("the HTTP peer exited before it listened")), TaskScheduler.Default);
        try
        {
            return new HttpPeer(process, await listening.Task.WaitAsync(PoolTestKit.Patience));
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }
}
