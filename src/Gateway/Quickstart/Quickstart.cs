using System.Globalization;
using System.Text.Json;
using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Gateway.Humans;

namespace ApprovalEngine.Gateway.Quickstart;

/// <summary>
/// What the gateway runs with when no configuration file is given: server-filesystem over a sandbox folder and
/// server-memory (both from npm, through npx), one bundle, one agent and one approver whose secrets are made on first
/// start, and a read-only policy: reads run at once, writes wait for the approver. All of
/// it lives under <c>.data/quickstart</c> and is reused, so edits to the file and the key survive restarts.
/// With <see cref="NodeModulesKey"/> set, the servers run from that <c>node_modules</c> folder instead of npx, so a
/// machine without access to the npm registry (CI, an offline laptop) can run the quickstart.
/// </summary>
public static class QuickstartSetup
{
    public const string Bundle = "quickstart";
    public const string AgentId = "quickstart-agent";
    public const string Approver = "approver@localhost.localdomain";

    /// <summary>A <c>node_modules</c> folder holding both servers at the pinned versions; read when the configuration is written.</summary>
    public const string NodeModulesKey = "ApprovalEngine:Quickstart:NodeModules";

    // Pinned so that a quickstart today behaves like the one the README describes.
    public const string FilesystemPackage = "@modelcontextprotocol/server-filesystem@2026.8.31";
    public const string MemoryPackage = "@modelcontextprotocol/server-memory@2026.8.31";

    public static string DefaultDirectory { get; } = Path.Combine(".data", "quickstart");

    /// <summary>Creates what is missing and returns the configuration file's path.</summary>
    /// <param name="nodeModules">Where the servers are installed; null runs them through npx.</param>
    /// <exception cref="GatewayStartupException">A server is missing from <paramref name="nodeModules"/> or has another version.</exception>
    public static QuickstartFiles Prepare(string directory, string? nodeModules = null)
    {
        var root = Path.GetFullPath(directory);
        var sandbox = Path.Combine(root, "sandbox");
        Directory.CreateDirectory(sandbox);
        var welcome = Path.Combine(sandbox, "welcome.txt");
        if (!File.Exists(welcome))
        {
            File.WriteAllText(welcome, "This folder is the quickstart's filesystem sandbox. Agents may read it; writes go through the gateway.\n");
        }

        var key = Secret(Path.Combine(root, "agent.key"), ApiKeys.Generate);
        var approverToken = Secret(Path.Combine(root, "approver.token"), UserTokens.Generate);
        var config = Path.Combine(root, "gateway.yaml");
        if (!File.Exists(config))
        {
            var filesystem = Launch(FilesystemPackage, nodeModules, ["."]);
            var memory = Launch(MemoryPackage, nodeModules, []);
            File.WriteAllText(config, Yaml(ApiKeys.Hash(key), UserTokens.Hash(approverToken), filesystem, memory));
        }

        return new QuickstartFiles(config, key, approverToken);
    }

    /// <summary>A secret kept in a file readable only by its owner, made on first use.</summary>
    private static string Secret(string path, Func<string> generate)
    {
        if (!File.Exists(path))
        {
            File.WriteAllText(path, generate() + "\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        return File.ReadAllText(path).Trim();
    }

    /// <summary>The command and arguments (as YAML flow values) that start <paramref name="pinned"/> (name@version).</summary>
    private static (string Command, string Args) Launch(string pinned, string? nodeModules, string[] arguments)
    {
        if (nodeModules is null)
        {
            return ("npx", JsonSerializer.Serialize((string[])["-y", pinned, .. arguments]));
        }

        var at = pinned.LastIndexOf('@');
        var (name, version) = (pinned[..at], pinned[(at + 1)..]);
        var folder = Path.GetFullPath(Path.Combine(nodeModules, name));
        var manifestPath = Path.Combine(folder, "package.json");
        if (!File.Exists(manifestPath))
        {
            throw new GatewayStartupException($"{NodeModulesKey}: {manifestPath} does not exist (install {pinned} there, or unset the setting to use npx).");
        }

        using var manifest = JsonDocument.Parse(File.ReadAllText(manifestPath));
        var root = manifest.RootElement;
        var installed = root.TryGetProperty("version", out var v) ? v.GetString() : null;
        if (installed != version)
        {
            throw new GatewayStartupException($"{NodeModulesKey}: {folder} holds {name} {installed ?? "(no version)"}; the quickstart needs {version}.");
        }

        // "bin" is a path, or a map from command names to paths; the reference servers have one command.
        var bin = root.TryGetProperty("bin", out var b) ? b : default;
        var relative = bin.ValueKind switch
        {
            JsonValueKind.String => bin.GetString(),
            JsonValueKind.Object => bin.EnumerateObject().Select(p => p.Value.GetString()).FirstOrDefault(),
            _ => null,
        };
        var script = relative is null ? null : Path.GetFullPath(Path.Combine(folder, relative));
        if (script is null || !File.Exists(script))
        {
            throw new GatewayStartupException($"{NodeModulesKey}: {manifestPath} names no program to run (\"bin\"), or it is missing.");
        }

        return ("node", JsonSerializer.Serialize((string[])[script, .. arguments]));
    }

    private static string Yaml(string keyHash, string approverTokenHash, (string Command, string Args) filesystem, (string Command, string Args) memory) =>
        string.Create(CultureInfo.InvariantCulture, $"""
        # Quickstart configuration, written on first start. Edit it freely: the gateway reloads it on change.
        # Paths are relative to this file.
        upstreams:
          fs:
            type: stdio
            command: {filesystem.Command}
            # The sandbox is the working directory, so relative paths from agents land inside it.
            args: {filesystem.Args}
            cwd: ./sandbox
          memory:
            type: stdio
            command: {memory.Command}
            args: {memory.Args}
            cwd: .
            env:
              MEMORY_FILE_PATH: ./memory.jsonl

        agents:
          {AgentId}:
            owner: quickstart@localhost.localdomain
            groups: [quickstart]
            keys:
              # The key itself is in agent.key, next to this file.
              - {keyHash}

        bundles:
          {Bundle}:
            upstreams: [fs, memory]
            agents: [{AgentId}]

        approvers:
          quickstart-approvers:
            members: [{Approver}]

        users:
          {Approver}:
            roles: [approver, auditor, admin]
            tokens:
              # The token itself is in approver.token, next to this file.
              - {approverTokenHash}

        # Read tools run at once; every other tool waits for an approval (POST /api/approvals/<id>/approve).
        policy:
          default: read-only
          approvers: [quickstart-approvers]
          approval:
            timeout: 1h
            hold: 50s

        """);
}

public sealed record QuickstartFiles(string ConfigPath, string AgentKey, string ApproverToken);

public static class QuickstartConsole
{
    /// <summary>Prepares the quickstart files and tells the person at the console how to connect.</summary>
    public static string Prepare(WebApplicationBuilder builder, TextWriter console)
    {
        var nodeModules = builder.Configuration[QuickstartSetup.NodeModulesKey] is { Length: > 0 } configured ? configured : null;
        var files = QuickstartSetup.Prepare(QuickstartSetup.DefaultDirectory, nodeModules);
        var baseUrl = (builder.Configuration[WebHostDefaults.ServerUrlsKey] ?? ListenAddress.Default).Split(';')[0].TrimEnd('/');

        // The one place a key is shown: the quickstart's own local key, to the person who started it.
        console.WriteLine($"""

            Approval Engine quickstart (no --config given)
              MCP URL:   {baseUrl}/mcp/{QuickstartSetup.Bundle}
              Agent key: {files.AgentKey}
              Config:    {files.ConfigPath}
            Connect an MCP client with the header  Authorization: Bearer <agent key>
            Read tools run at once; writes wait for an approval. Approve one (its id is in the agent's progress
            messages, in the "pending approval" result, and in GET {baseUrl}/api/approvals/<id>) with:
              curl -X POST {baseUrl}/api/approvals/<id>/approve -H "Authorization: Bearer {files.ApproverToken}"

            """);
        return files.ConfigPath;
    }
}
