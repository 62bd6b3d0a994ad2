using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Gateway.Quickstart;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Quickstart;

/// <summary>How the quickstart's configuration starts its two servers: npx, or a local node_modules folder.</summary>
public sealed class QuickstartPackagesTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "ae-qs-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Prepare_NoNodeModules_RunsThePinnedPackagesThroughNpx()
    {
        var config = Load(QuickstartSetup.Prepare(directory));

        Assert.Equal("npx", config.Upstreams["fs"].Command);
        Assert.Equal(["-y", QuickstartSetup.FilesystemPackage, "."], config.Upstreams["fs"].Args);
        Assert.Equal("npx", config.Upstreams["memory"].Command);
        Assert.Equal(["-y", QuickstartSetup.MemoryPackage], config.Upstreams["memory"].Args);
    }

    [Fact]
    public void Prepare_NodeModules_RunsTheInstalledServersWithNode()
    {
        var nodeModules = Path.Combine(NodePeers.PeersDirectory, "node_modules");

        var config = Load(QuickstartSetup.Prepare(directory, nodeModules));

        var fs = config.Upstreams["fs"];
        var memory = config.Upstreams["memory"];
        Assert.Equal(("node", 2, "."), (fs.Command, fs.Args.Count, fs.Args[1]));
        Assert.Equal(("node", 1), (memory.Command, memory.Args.Count));
        Assert.StartsWith(Path.Combine(nodeModules, "@modelcontextprotocol", "server-filesystem") + Path.DirectorySeparatorChar, fs.Args[0], StringComparison.Ordinal);
        Assert.StartsWith(Path.Combine(nodeModules, "@modelcontextprotocol", "server-memory") + Path.DirectorySeparatorChar, memory.Args[0], StringComparison.Ordinal);
        Assert.True(File.Exists(fs.Args[0]) && File.Exists(memory.Args[0]));
    }

    [Fact]
    public void Prepare_NodeModulesWithAnotherVersion_FailsNamingBothVersions()
    {
        var nodeModules = Path.Combine(directory, "node_modules");
        Fake(nodeModules, "server-filesystem", "1.0.0");
        Fake(nodeModules, "server-memory", "1.0.0");

        var error = Assert.Throws<GatewayStartupException>(() => QuickstartSetup.Prepare(Path.Combine(directory, "quickstart"), nodeModules));

        Assert.Contains("server-filesystem 1.0.0", error.Message, StringComparison.Ordinal);
        Assert.Contains("needs " + QuickstartSetup.FilesystemPackage.Split('@')[^1], error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(directory, "quickstart", "gateway.yaml")));
    }

    [Fact]
    public void Prepare_NodeModulesWithoutTheServers_FailsNamingTheMissingPackage()
    {
        var nodeModules = Path.Combine(directory, "empty");
        Directory.CreateDirectory(nodeModules);

        var error = Assert.Throws<GatewayStartupException>(() => QuickstartSetup.Prepare(Path.Combine(directory, "quickstart"), nodeModules));

        Assert.Contains(QuickstartSetup.NodeModulesKey, error.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(nodeModules, "@modelcontextprotocol", "server-filesystem", "package.json"), error.Message, StringComparison.Ordinal);
    }

    private static GatewayConfig Load(QuickstartFiles files)
    {
        var loaded = GatewayConfigLoader.Load(files.ConfigPath);
        Assert.True(loaded.Config is not null, string.Join('\n', loaded.Errors));
        return loaded.Config;
    }

    private static void Fake(string nodeModules, string server, string version)
    {
        var folder = Path.Combine(nodeModules, "@modelcontextprotocol", server);
        Directory.CreateDirectory(folder);
        var manifest = new { name = $"@modelcontextprotocol/{server}", version, bin = new Dictionary<string, string> { [$"mcp-{server}"] = "index.js" } };
        File.WriteAllText(Path.Combine(folder, "package.json"), System.Text.Json.JsonSerializer.Serialize(manifest));
        File.WriteAllText(Path.Combine(folder, "index.js"), "");
    }
}
