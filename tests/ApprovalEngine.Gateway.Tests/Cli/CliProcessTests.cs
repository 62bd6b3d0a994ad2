using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using ApprovalEngine.Cli;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Testing;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Cli;

/// <summary>The <c>approvals</c> executable as a child process against a running gateway: login, deciding, and its exit codes.</summary>
[Collection(CliCollection.Name)]
public sealed class CliProcessTests(CliGateway gateway)
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Login_TokenOnStandardInput_StoresItForTheOwnerOnlyAndNeverPrintsIt()
    {
        using var person = new CliUser(gateway);

        var login = await person.RunAsync(gateway.ApproverToken + "\n", "login", "--url", gateway.Url, "--token-stdin");
        var whoami = await person.RunAsync(null, "whoami");
        var stored = JsonNode.Parse(await File.ReadAllTextAsync(person.CredentialsPath))!;

        Assert.True(login.ExitCode == ExitCodes.Ok, login.ToString());
        Assert.Contains("ops@example.com (approver)", login.Out, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(person.CredentialsPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(person.CredentialsPath)!));
        Assert.Equal(gateway.Url + "/", stored["url"]!.GetValue<string>());
        Assert.Equal(gateway.ApproverToken, stored["token"]!.GetValue<string>());
        Assert.True(whoami.ExitCode == ExitCodes.Ok, whoami.ToString());
        Assert.StartsWith("ops@example.com (approver) at ", whoami.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_TokenTheGatewayRefuses_ExitsThreeAndStoresNothing()
    {
        using var person = new CliUser(gateway);
        var unknown = UserTokens.Generate();

        var login = await person.RunAsync(unknown + "\n", "login", "--url", gateway.Url, "--token-stdin");

        Assert.True(login.ExitCode == ExitCodes.NotAuthorized, login.ToString());
        Assert.Contains("(HTTP 401)", login.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(person.CredentialsPath));
        Assert.DoesNotContain(unknown, login.Out + login.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Approve_HeldCall_TheAgentsCallCompletesAndASecondDecisionConflicts()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.ApproverToken);
        await using var agent = await gateway.ConnectAgentAsync(timeout.Token);
        var (call, id, path) = await gateway.HeldWriteAsync(agent, "cli-approved.txt", "approved from the CLI", timeout.Token);

        var pending = await person.RunAsync(null, "pending");
        var approve = await person.RunAsync(null, "approve", id.ToString(), "--comment", "looks fine");
        var result = await call;
        var deny = await person.RunAsync(null, "deny", id.ToString(), "--reason", "too late");

        Assert.True(pending.ExitCode == ExitCodes.Ok, pending.ToString());
        var row = Assert.Single(pending.Out.Split('\n'), line => line.StartsWith(id.ToString(), StringComparison.Ordinal));
        Assert.Contains("agent", row, StringComparison.Ordinal);
        Assert.Contains("fs/write_file", row, StringComparison.Ordinal);
        Assert.Contains("writes-need-approval", row, StringComparison.Ordinal);
        Assert.Contains("0/1", row, StringComparison.Ordinal);
        Assert.Contains("may decide", row, StringComparison.Ordinal);
        Assert.True(approve.ExitCode == ExitCodes.Ok, approve.ToString());
        Assert.Equal($"{id}: Approved by ops@example.com.", approve.Out.Trim());
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("approved from the CLI", await File.ReadAllTextAsync(path, timeout.Token));
        Assert.True(deny.ExitCode == ExitCodes.Conflict, deny.ToString());
        Assert.StartsWith("error: AlreadyDecided: ", deny.Error, StringComparison.Ordinal);
        TestFigures.Report("CLI child process, wall time incl. .NET start", string.Create(CultureInfo.InvariantCulture,
            $"pending {pending.Elapsed.TotalMilliseconds:0} ms, approve {approve.Elapsed.TotalMilliseconds:0} ms, deny (409) {deny.Elapsed.TotalMilliseconds:0} ms"));
    }

    [Fact]
    public async Task Deny_WithReason_TheAgentIsToldWhoDeniedAndWhy()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.ApproverToken);
        await using var agent = await gateway.ConnectAgentAsync(timeout.Token);
        var (call, id, path) = await gateway.HeldWriteAsync(agent, "cli-denied.txt", "x", timeout.Token);

        var deny = await person.RunAsync(null, "deny", id.ToString(), "--reason", "not on a Friday");
        var result = await call;

        Assert.True(deny.ExitCode == ExitCodes.Ok, deny.ToString());
        Assert.Equal($"{id}: Denied by ops@example.com: not on a Friday.", deny.Out.Trim());
        Assert.True(result.IsError);
        Assert.Equal($"Approval {id} was denied by ops@example.com: not on a Friday", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Approve_UnknownApproval_ExitsFour()
    {
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.ApproverToken);

        var approve = await person.RunAsync(null, "approve", Guid.NewGuid().ToString());

        Assert.True(approve.ExitCode == ExitCodes.NotFound, approve.ToString());
        Assert.Contains("(HTTP 404)", approve.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pending_GatewayUnreachable_ExitsSixNamingTheUrl()
    {
        using var person = new CliUser(gateway);
        var url = $"http://127.0.0.1:{ClosedPort()}";
        person.Environment["APPROVALS_URL"] = url;
        person.Environment["APPROVALS_TOKEN"] = gateway.ApproverToken;

        var pending = await person.RunAsync(null, "pending");

        Assert.True(pending.ExitCode == ExitCodes.Unreachable, pending.ToString());
        Assert.StartsWith($"error: Cannot reach the gateway at {url}/: ", pending.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("deny", "3f2504e0-4f89-11d3-9a0c-0305e82c3301")]
    [InlineData("approve", "not-an-id")]
    [InlineData("pending", "--limit", "0")]
    [InlineData("no-such-command")]
    public async Task Run_BadUsage_ExitsTwoWithoutCallingTheGateway(params string[] args)
    {
        using var person = new CliUser(gateway);

        var run = await person.RunAsync(null, args);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.StartsWith("error: ", run.Error, StringComparison.Ordinal);
        Assert.Contains("--help' for usage.", run.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Out);
    }

    [Fact]
    public async Task ConfigValidate_InvalidFile_ExitsSevenListingEveryErrorWithFileLineAndColumn()
    {
        using var person = new CliUser(gateway);
        var file = Path.Combine(person.ConfigHome, "broken.yaml");
        await File.WriteAllTextAsync(file, "upstreams:\n  fs:\n    type: nope\nagents:\n  bot:\n    keys: [not-a-hash]\n");

        var invalid = await person.RunAsync(null, "config", "validate", file);
        var valid = await person.RunAsync(null, "config", "validate", gateway.Gateway.ConfigPath);

        Assert.True(invalid.ExitCode == ExitCodes.ConfigInvalid, invalid.ToString());
        var errors = invalid.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith($"{file}:3:11: upstreams.fs.type: ", errors[0], StringComparison.Ordinal);
        Assert.Contains(errors, e => e.StartsWith($"{file}:6:", StringComparison.Ordinal));
        Assert.Equal($"{file}: {errors.Length - 1} error(s).", errors[^1]);
        Assert.True(valid.ExitCode == ExitCodes.Ok, valid.ToString());
        Assert.Equal($"{gateway.Gateway.ConfigPath}: valid (1 upstreams, 1 agents, 1 bundles, 2 users, 2 policy rules).", valid.Out.Trim());
    }

    private static int ClosedPort()
    {
        // A port the system just handed out and that nothing listens on any more.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
