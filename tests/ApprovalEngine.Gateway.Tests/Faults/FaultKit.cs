using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Testing;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Faults;

/// <summary>Pieces the fault tests share: the fixture upstream's YAML, /readyz, results as text, this process's handles.</summary>
internal static class FaultKit
{
    /// <summary>A stdio upstream running the fixture server, for the body of <c>upstreams:</c> (indented two spaces).</summary>
    public static string FixtureUpstream(string name, string timeout, IReadOnlyDictionary<string, string>? env = null)
    {
        var script = Path.Combine(NodePeers.PeersDirectory, "upstream-fixtures", "fixture-server.mjs");
        var yaml = $"""
              {name}:
                type: stdio
                command: {JsonSerializer.Serialize(NodePeers.Node)}
                args: {JsonSerializer.Serialize(new[] { script, "stdio" })}
                timeout: {timeout}

            """;
        return env is null ? yaml : yaml + $"    env: {JsonSerializer.Serialize(env)}\n";
    }

    public static string Text(CallToolResult result) => string.Join("\n", result.Content.OfType<TextContentBlock>().Select(b => b.Text));

    /// <summary>GET /readyz (always 200 or 503) as JSON.</summary>
    public static async Task<JsonNode> ReadyzAsync(HttpClient client, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(new Uri("readyz", UriKind.Relative), cancellationToken);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!;
    }

    /// <summary>Polls /readyz until <paramref name="condition"/> holds; the last answer is in the failure message.</summary>
    public static async Task<JsonNode> WaitForReadyzAsync(HttpClient client, Func<JsonNode, bool> condition, string what, CancellationToken cancellationToken)
    {
        JsonNode? last = null;
        try
        {
            while (true)
            {
                last = await ReadyzAsync(client, cancellationToken);
                if (condition(last))
                {
                    return last;
                }

                await Task.Delay(100, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"/readyz never showed {what}; last: {last?.ToJsonString()}");
            throw;
        }
    }

    /// <summary>Open file descriptors of this process (sockets and pipes included).</summary>
    public static int OpenHandles() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>The live managed heap after a full, blocking collection.</summary>
    public static long LiveHeap()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    public static string Ms(TimeSpan duration) => duration.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms";

    public static TimeSpan Since(long timestamp) => Stopwatch.GetElapsedTime(timestamp);
}
