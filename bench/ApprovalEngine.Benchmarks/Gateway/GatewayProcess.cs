using System.Net;
using System.Net.Sockets;
using ApprovalEngine.Gateway.Agents;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>
/// The gateway as it is deployed: its own process (the build next to this program), a configuration file with one
/// http upstream, one agent and one bundle, and a database of the benchmark's PostgreSQL. Ready when <c>/readyz</c> says so.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    public const string UpstreamName = "up";
    public const string Bundle = "bench";
    public const string Agent = "bench-agent";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private GatewayProcess(ChildProcess process, Uri baseUrl, string key)
    {
        Process = process;
        BaseUrl = baseUrl;
        Key = key;
    }

    public ChildProcess Process { get; }

    public Uri BaseUrl { get; }

    public Uri Endpoint => new(BaseUrl, $"/mcp/{Bundle}");

    /// <summary>The agent's API key (its hash is in the configuration file).</summary>
    public string Key { get; }

    /// <summary>The name the agent calls <paramref name="tool"/> by (namespaced, as bundles are by default).</summary>
    public static string ToolName(string tool) => $"{UpstreamName}__{tool}";

    /// <param name="environment">Extra settings for the gateway, as environment variables (e.g. log levels).</param>
    public static Task<GatewayProcess> StartAsync(
        Uri upstream, string connectionString, IReadOnlyDictionary<string, string> environment, string workDirectory, CancellationToken ct) =>
        StartAsync(upstream, connectionString, environment, workDirectory, "gateway", ApiKeys.Generate(), "", CpuPlacement.Shared, ct);

    /// <param name="name">Names its directory and log, so that several nodes can run side by side.</param>
    /// <param name="key">The agent's key; nodes of one cluster share it.</param>
    /// <param name="extraConfig">Top-level sections appended to the configuration (approvers, users, policy).</param>
    public static Task<GatewayProcess> StartAsync(
        Uri upstream, string connectionString, IReadOnlyDictionary<string, string> environment, string workDirectory,
        string name, string key, string extraConfig, CancellationToken ct) =>
        StartAsync(upstream, connectionString, environment, workDirectory, name, key, extraConfig, CpuPlacement.Shared, ct);

    /// <param name="placement">The gateway runs on the gateway's side of it.</param>
    public static async Task<GatewayProcess> StartAsync(
        Uri upstream, string connectionString, IReadOnlyDictionary<string, string> environment, string workDirectory,
        string name, string key, string extraConfig, CpuPlacement placement, CancellationToken ct)
    {
        // A directory of its own, also its working directory: the gateway watches the configuration file (and
        // ASP.NET Core the content root), and a log written beside them would wake those watchers on every line.
        var directory = Directory.CreateDirectory(Path.Combine(workDirectory, name)).FullName;
        var config = Path.Combine(directory, "gateway.yaml");
        await File.WriteAllTextAsync(config, $"""
            # Written by the gateway benchmark for one run.
            upstreams:
              {UpstreamName}:
                type: http
                url: {upstream}
            agents:
              {Agent}:
                owner: bench@example.com
                keys: ["{ApiKeys.Hash(key)}"]
            bundles:
              {Bundle}:
                upstreams: [{UpstreamName}]
                agents: [{Agent}]

            """ + extraConfig, ct);

        var baseUrl = new Uri($"http://127.0.0.1:{FreePort()}");
        var (program, arguments) = placement.Wrap(
            gatewaySide: true, Executables.Dotnet, [typeof(ApiKeys).Assembly.Location, "--config", config, "--urls", baseUrl.ToString().TrimEnd('/')]);
        var process = ChildProcess.Start(
            name,
            program,
            arguments,
            directory,
            new Dictionary<string, string>(environment) { ["ConnectionStrings__ApprovalEngine"] = connectionString },
            LogPath(workDirectory, name));
        var gateway = new GatewayProcess(process, baseUrl, key);
        try
        {
            await gateway.WaitUntilReadyAsync(ct);
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();

    /// <summary>Logs go to a directory no process watches.</summary>
    internal static string LogPath(string workDirectory, string name) =>
        Path.Combine(Directory.CreateDirectory(Path.Combine(workDirectory, "logs")).FullName, $"{name}.log");

    private async Task WaitUntilReadyAsync(CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(5) };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(ReadyTimeout);
        try
        {
            while (true)
            {
                if (Process.HasExited)
                {
                    throw new InvalidOperationException($"The gateway exited during start.\n{Process.Tail()}");
                }

                try
                {
                    using var response = await http.GetAsync(new Uri("/readyz", UriKind.Relative), deadline.Token);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !deadline.IsCancellationRequested))
                {
                    // Not listening yet, or too busy starting to answer this probe.
                }

                await Task.Delay(100, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"The gateway was not ready within {ReadyTimeout.TotalSeconds:0} s.\n{Process.Tail()}");
        }
    }

    // Free when asked; another process could take it before the gateway binds, which the start would report.
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
