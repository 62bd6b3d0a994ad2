using System.Text.Json;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>Configuration fragments that many gateway fixtures share.</summary>
public static class GatewayYaml
{
    /// <summary>
    /// The top-level <c>upstreams</c>, <c>agents</c> and <c>bundles</c> sections of a gateway in front of the real
    /// server-filesystem over <paramref name="sandbox"/> (upstream <c>fs</c>), with one agent, <c>agent</c>
    /// (key placeholder <c>{key:agent}</c>), in the bundle <c>files</c>. Lines start at column 0.
    /// </summary>
    public static string FilesAgent(string sandbox, string owner = "owner@example.com")
    {
        var filesystem = NodePeers.ServerFilesystem(sandbox);
        return $$"""
            upstreams:
              fs:
                type: stdio
                command: {{filesystem.FileName}}
                args: {{JsonSerializer.Serialize(filesystem.Arguments)}}
                cwd: .
            agents:
              agent:
                owner: {{owner}}
                keys: ["{key:agent}"]
            bundles:
              files:
                upstreams: [fs]
                agents: [agent]
            """;
    }
}
