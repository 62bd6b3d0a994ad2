using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ApprovalEngine.Gateway.Quickstart;
using ApprovalEngine.Gateway.Stdio;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Gateway.Tests.Upstreams;
using ApprovalEngine.Testing;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Quickstart;

/// <summary>
/// The README's run command with no arguments, as a process of its own in an empty working directory: the embedded
/// PostgreSQL, the quickstart configuration with server-filesystem and server-memory (from tests/mcp-peers, so no
/// npm download), the printed URL and key used by a real MCP client, and a SIGTERM that leaves nothing behind.
/// </summary>
public sealed class QuickstartProcessTests(ITestOutputHelper output)
{
    // initdb and the first start of the embedded server take a while on a loaded machine.
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(15);
    private const int SigTerm = 15;

    [Fact]
    public async Task RunWithoutArguments_PrintedUrlAndKey_AgentListsAndCallsToolsThenSigtermLeavesNothing()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        var directory = Directory.CreateTempSubdirectory("ae-quickstart-").FullName;
        var lines = new List<string>();
        var baseUrl = $"http://127.0.0.1:{FreePort()}";
        using var process = Start(directory, baseUrl, lines);
        IReadOnlyList<int> started = [];
        try
        {
            var url = await PrintedAsync(process, lines, "MCP URL:", ct);
            var key = await PrintedAsync(process, lines, "Agent key:", ct);
            Assert.Equal($"{baseUrl}/mcp/{QuickstartSetup.Bundle}", url);
            var note = $"written by the test {Guid.NewGuid():N}";
            await File.WriteAllTextAsync(Path.Combine(directory, ".data", "quickstart", "sandbox", "note.txt"), note, ct);

            await using (var client = await ConnectAsync(url, key, process, lines, ct))
            {
                var tools = (await client.ListToolsAsync(cancellationToken: ct)).Select(t => t.Name).ToList();
                Assert.Contains("fs__read_text_file", tools);
                Assert.Contains("fs__list_directory", tools);
                Assert.Contains("memory__create_entities", tools);
                Assert.Contains("memory__read_graph", tools);

                // A relative path lands in the sandbox, the filesystem server's working directory and only root.
                var read = await client.CallToolAsync("fs__read_text_file", new Dictionary<string, object?> { ["path"] = "note.txt" }, cancellationToken: ct);
                Assert.True(read.IsError != true, Text(read));
                Assert.Equal(note, Text(read));
                var listing = await client.CallToolAsync("fs__list_directory", new Dictionary<string, object?> { ["path"] = "." }, cancellationToken: ct);
                Assert.Contains("welcome.txt", Text(listing), StringComparison.Ordinal);
            }

            // The README's TypeScript example, copied as it is printed there (only the address differs), with the key in
            // the variable it reads: it lists the tools and lists the sandbox.
            var example = ReadmeExamples.Block("TypeScript SDK").Replace(ReadmeExamples.QuickstartUrl, url, StringComparison.Ordinal);
            var (exitCode, stdout, stderr) = await NodePeers.RunModuleAsync(example, new Dictionary<string, string> { [StdioBridge.KeyVariable] = key }, TimeSpan.FromSeconds(60), ct);
            Assert.True(exitCode == 0, $"the README's TypeScript example failed (exit {exitCode}): {stderr}");
            Assert.Contains("fs__list_directory", stdout, StringComparison.Ordinal);
            Assert.Contains("welcome.txt", stdout, StringComparison.Ordinal);

            // The embedded PostgreSQL (and its watchdog) and both servers, run from tests/mcp-peers rather than npx.
            started = GatewayProcessTree.Collect(process.Id);
            output.WriteLine($"processes of the quickstart before SIGTERM:\n  {GatewayProcessTree.Describe(started)}");
            var installed = Path.Combine(NodePeers.PeersDirectory, "node_modules", "@modelcontextprotocol");
            Assert.Contains(started, pid => GatewayProcessTree.CommandLine(pid).Contains(Path.Combine(installed, "server-filesystem"), StringComparison.Ordinal));
            Assert.Contains(started, pid => GatewayProcessTree.CommandLine(pid).Contains(Path.Combine(installed, "server-memory"), StringComparison.Ordinal));
            Assert.Contains(started, pid => GatewayProcessTree.CommandLine(pid).Contains("postgres", StringComparison.Ordinal));

            GatewayProcessTree.Signal(process.Id, SigTerm);
            await process.WaitForExitAsync(ct);

            Assert.Equal(0, process.ExitCode);
            var remaining = await ProcessTable.WaitUntilGoneAsync(started, ExitGrace);
            Assert.True(remaining.Count == 0, $"still running after the quickstart stopped:\n  {GatewayProcessTree.Describe(remaining)}");

            // The key is shown once, on its line of the banner, and stored only in agent.key: no log line, no log file
            // (the embedded server's included), no configuration holds it.
            string[] printed;
            lock (lines)
            {
                printed = [.. lines];
            }

            Assert.Single(printed, line => line.Contains(key, StringComparison.Ordinal));
            var keyFile = Path.Combine(directory, ".data", "quickstart", "agent.key");
            var holding = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
                .Where(file => file != keyFile && Contains(file, key))
                .ToList();
            Assert.Empty(holding);
            Assert.Equal(key, (await File.ReadAllTextAsync(keyFile, ct)).Trim());
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            GatewayProcessTree.KillRemaining(started);
            // The secrets the banner shows stay out of the test's output.
            var secrets = new[] { "agent.key", "approver.token" }.Select(f => ReadSecret(directory, f)).OfType<string>().ToList();
            lock (lines)
            {
                output.WriteLine(string.Join('\n', lines.Select(l => secrets.Aggregate(l, (text, secret) => text.Replace(secret, "[secret]", StringComparison.Ordinal)))));
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary><c>dotnet ApprovalEngine.Gateway.dll</c> with no arguments; only the environment picks the port and the local servers.</summary>
    private static Process Start(string directory, string baseUrl, List<string> lines)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = directory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ApprovalEngine.Gateway.dll"));
        info.Environment["ASPNETCORE_URLS"] = baseUrl;
        info.Environment["ApprovalEngine__Quickstart__NodeModules"] = Path.Combine(NodePeers.PeersDirectory, "node_modules");
        info.Environment["DOTNET_NOLOGO"] = "1";

        // Nothing of the test host's own settings: the quickstart must choose its database and configuration itself.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || k.StartsWith("ApprovalEngine__Config", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is { } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                }
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>The value printed after <paramref name="label"/> on a banner line, once it is there.</summary>
    private static async Task<string> PrintedAsync(Process process, List<string> lines, string label, CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (lines)
            {
                if (lines.FirstOrDefault(l => l.TrimStart().StartsWith(label, StringComparison.Ordinal)) is { } line)
                {
                    return line.TrimStart()[label.Length..].Trim();
                }
            }

            Assert.False(process.HasExited, $"the quickstart exited before it printed '{label}':\n{string.Join('\n', lines)}");
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>The agent's client, once the server is ready and both upstreams have listed their tools.</summary>
    private static async Task<McpClient> ConnectAsync(string url, string key, Process process, List<string> lines, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var ready = new Uri(new Uri(url), "/readyz");
        while (true)
        {
            Assert.False(process.HasExited, $"the quickstart exited during start:\n{string.Join('\n', lines)}");
            try
            {
                using var response = await http.GetAsync(ready, cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet: the embedded database starts first.
            }

            await Task.Delay(200, cancellationToken);
        }

        var client = await AgentClients.ConnectAsync(url, key, "fs__read_text_file", cancellationToken);
        while ((await client.ListToolsAsync(cancellationToken: cancellationToken)).All(t => t.Name != "memory__read_graph"))
        {
            await Task.Delay(100, cancellationToken);
        }

        return client;
    }

    private static bool Contains(string file, string text)
    {
        // Byte-wise: log and data files need not be text. Files the embedded server removed meanwhile hold nothing.
        try
        {
            return File.ReadAllBytes(file).AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    private static string? ReadSecret(string directory, string file)
    {
        var path = Path.Combine(directory, ".data", "quickstart", file);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    private static string Text(CallToolResult result) => string.Join("\n", result.Content.OfType<TextContentBlock>().Select(b => b.Text));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
