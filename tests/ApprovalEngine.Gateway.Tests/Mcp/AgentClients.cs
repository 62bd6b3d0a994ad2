using ModelContextProtocol.Client;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>An agent's MCP client: the C# SDK over Streamable HTTP (2025-11-25 sessions) with the agent's key.</summary>
public static class AgentClients
{
    /// <summary>Connects, then waits until <paramref name="tool"/> is listed (stdio upstreams connect in the background).</summary>
    public static async Task<McpClient> ConnectAsync(string url, string key, string tool, CancellationToken cancellationToken)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(url),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {key}" },
        });
        var client = await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = "2025-11-25" }, cancellationToken: cancellationToken);
        while ((await client.ListToolsAsync(cancellationToken: cancellationToken)).All(t => t.Name != tool))
        {
            await Task.Delay(100, cancellationToken);
        }

        return client;
    }
}
