using System.Globalization;
using ApprovalEngine.Gateway.Tests.Approvals;
using ModelContextProtocol.Client;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Chaos;

/// <summary>
/// Two gateway nodes, A and B, on the scene's database. A node killed with SIGKILL is started again at once in the
/// background (a new process on a new port, as an orchestrator would), and is live again once that process is ready.
/// The agent's MCP client of each live node is kept and reused; the clients of killed nodes are closed at the end.
/// </summary>
internal sealed class ChaosCluster(DurabilityScene scene, IReadOnlyDictionary<string, string> settings, ITestOutputHelper output) : IAsyncDisposable
{
    public const string Tool = "fx__slow-write";

    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    private readonly Slot[] slots = [new("A"), new("B")];
    private readonly List<McpClient> abandoned = [];

    public int Kills { get; private set; }

    public static string NameOf(int slot) => slot == 0 ? "A" : "B";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var started = await Task.WhenAll(slots.Select(s => scene.StartNodeAsync(s.Name, settings, cancellationToken)));
        for (var i = 0; i < slots.Length; i++)
        {
            slots[i].Node = started[i];
        }
    }

    /// <summary>The node in <paramref name="slot"/> when it is live (not killed, or started again and ready), else null.</summary>
    public GatewayProcess? Live(int slot) => slots[slot].Node;

    /// <summary>A live slot: <paramref name="preferred"/> when it is live, else the other one.</summary>
    public int LiveSlot(int preferred) =>
        Live(preferred) is not null ? preferred
        : Live(1 - preferred) is not null ? 1 - preferred
        : throw new InvalidOperationException("Both gateway nodes are down; the test kills one at a time.");

    /// <summary>Waits until no node is being started again.</summary>
    public async Task WaitAllLiveAsync(CancellationToken cancellationToken)
    {
        foreach (var slot in slots)
        {
            if (slot.Restart is { } restart)
            {
                slot.Node = await restart.WaitAsync(cancellationToken);
                slot.Restart = null;
            }
        }
    }

    /// <summary>SIGKILL of the node in <paramref name="slot"/> (and its stdio upstream), then its restart in the background.</summary>
    public GatewayProcess Kill(int slot)
    {
        var s = slots[slot];
        var node = s.Node ?? throw new InvalidOperationException($"Node {s.Name} is not live.");
        s.Node = null;
        node.Kill();
        Kills++;
        if (s.Client is { } client)
        {
            abandoned.Add(client);
            s.Client = null;
        }

        s.Starts++;
        var name = string.Create(CultureInfo.InvariantCulture, $"{s.Name}{s.Starts}");
        s.Restart = StartAgainAsync(node, name);
        return node;
    }

    /// <summary>The agent's MCP client on the live node of <paramref name="slot"/>, once that node lists the tool.</summary>
    public async Task<McpClient> ClientAsync(int slot, CancellationToken cancellationToken)
    {
        var s = slots[slot];
        var node = s.Node ?? throw new InvalidOperationException($"Node {s.Name} is not live.");
        return s.Client ??= await scene.ConnectAsync(node, Tool, cancellationToken);
    }

    public string Describe() => string.Join(", ", slots.Select(s => $"{s.Name}: {(s.Node?.ToString() ?? "restarting")}"));

    public async ValueTask DisposeAsync()
    {
        // Restarts still under way finish (or fail) before the scene stops every node it started.
        foreach (var slot in slots)
        {
            if (slot.Restart is { } restart)
            {
                await Task.WhenAny(restart, Task.Delay(CloseTimeout));
            }
        }

        var clients = abandoned.Concat(slots.Select(s => s.Client).OfType<McpClient>()).ToList();
        await Task.WhenAll(clients.Select(CloseAsync));
    }

    private async Task<GatewayProcess> StartAgainAsync(GatewayProcess killed, string name)
    {
        // Its output is written to the test's output now, so the restarts do not pile up until the end.
        await killed.DisposeAsync();
        return await scene.StartNodeAsync(name, settings, CancellationToken.None);
    }

    private async Task CloseAsync(McpClient client)
    {
        try
        {
            await client.DisposeAsync().AsTask().WaitAsync(CloseTimeout);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // Its node was killed: there is no session left to end.
            output.WriteLine($"closing an agent client of a killed node: {e.GetType().Name}");
        }
    }

    private sealed class Slot(string name)
    {
        public string Name { get; } = name;

        public GatewayProcess? Node { get; set; }

        public Task<GatewayProcess>? Restart { get; set; }

        public McpClient? Client { get; set; }

        public int Starts { get; set; }
    }
}
