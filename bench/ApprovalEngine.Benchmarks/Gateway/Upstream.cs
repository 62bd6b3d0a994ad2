using System.Text.Json;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>The running upstream: its process, its MCP endpoint, and the tool the benchmark calls with its arguments.</summary>
public sealed class Upstream : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private Upstream(ChildProcess process, Uri endpoint, string tool, IReadOnlyDictionary<string, object?> arguments, string description)
    {
        Process = process;
        Endpoint = endpoint;
        Tool = tool;
        Arguments = arguments;
        Description = description;
    }

    public ChildProcess Process { get; }

    public Uri Endpoint { get; }

    public string Tool { get; }

    public IReadOnlyDictionary<string, object?> Arguments { get; }

    public string Description { get; }

    public static Task<Upstream> StartAsync(UpstreamKind kind, string workDirectory, CancellationToken ct) =>
        StartAsync(kind, workDirectory, CpuPlacement.Shared, ct);

    /// <param name="placement">The upstream runs on the agents' side of it.</param>
    public static async Task<Upstream> StartAsync(UpstreamKind kind, string workDirectory, CpuPlacement placement, CancellationToken ct)
    {
        ChildProcess Start(string name, string program, IReadOnlyList<string> arguments, string directory, Dictionary<string, string> environment)
        {
            var (wrapped, wrappedArguments) = placement.Wrap(gatewaySide: false, program, arguments);
            return ChildProcess.Start(name, wrapped, wrappedArguments, directory, environment, GatewayProcess.LogPath(workDirectory, "upstream"));
        }

        var (process, tool, arguments, description) = kind switch
        {
            // Server GC, as the gateway (a web project) runs: the two .NET servers are configured alike.
            UpstreamKind.Dotnet => (
                Start("echo upstream", Executables.Dotnet, [typeof(EchoUpstream).Assembly.Location, EchoUpstream.Mode],
                    Directory.CreateDirectory(Path.Combine(workDirectory, "upstream")).FullName,
                    new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" }),
                EchoUpstream.ToolName,
                new Dictionary<string, object?> { ["text"] = "hello" },
                "C# SDK 2.3.1 echo server on Kestrel (bench echo-upstream, its own process, server GC), tool echo {text: \"hello\"}"),
            UpstreamKind.Node => (
                Start("node fixture upstream", "node", [Executables.FixtureServer, "--port", "0"], Path.GetDirectoryName(Executables.FixtureServer)!,
                    new Dictionary<string, string>()),
                "test_simple_text",
                new Dictionary<string, object?>(),
                "Node fixture server (tests/mcp-peers, TypeScript SDK), tool test_simple_text"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };

        try
        {
            var line = await process.WaitForLineAsync(IsReadyLine, ReadyTimeout, ct);
            return new Upstream(process, new Uri(line[EchoUpstream.ReadyPrefix.Length..].Trim()), tool, arguments, description);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>The arguments as JSON, for the report.</summary>
    public string ArgumentsJson => JsonSerializer.Serialize(Arguments);

    public ValueTask DisposeAsync() => Process.DisposeAsync();

    // Both servers announce themselves the same way: "LISTENING http://127.0.0.1:PORT/mcp".
    private static bool IsReadyLine(string line) => line.StartsWith(EchoUpstream.ReadyPrefix, StringComparison.Ordinal);
}

/// <summary>Where the programs the benchmark starts are.</summary>
internal static class Executables
{
    /// <summary>The dotnet host running this process, else the one on PATH (this process may run from its apphost).</summary>
    public static string Dotnet { get; } =
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";

    /// <summary>tests/mcp-peers/fixture-server.mjs of the repository this program was built from.</summary>
    public static string FixtureServer => FindInRepository(Path.Combine("tests", "mcp-peers", "fixture-server.mjs"));

    private static string FindInRepository(string relative)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"{relative} was not found above {AppContext.BaseDirectory}; run the benchmark from a checkout of the repository.");
    }
}
