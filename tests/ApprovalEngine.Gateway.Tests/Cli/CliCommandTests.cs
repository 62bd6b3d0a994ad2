using System.Text.Json.Nodes;
using ApprovalEngine.Cli;
using ApprovalEngine.Gateway.Audit;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Cli;

/// <summary>The CLI's commands in-process (the executable's own entry point) against a running gateway: --json, paging, export, verify, explain.</summary>
[Collection(CliCollection.Name)]
public sealed class CliCommandTests(CliGateway gateway)
{
    [Fact]
    public async Task PendingAndShow_Json_AreTheApiViewsOfTheHeldCall()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.ApproverToken);
        await using var agent = await gateway.ConnectAgentAsync(timeout.Token);
        var (call, id, _) = await gateway.HeldWriteAsync(agent, "cli-json.txt", "j", timeout.Token);

        var pending = await person.InvokeAsync(null, "pending", "--json");
        var show = await person.InvokeAsync(null, "show", id.ToString(), "--json");
        var text = await person.InvokeAsync(null, "show", id.ToString());
        await person.InvokeAsync(null, "deny", id.ToString(), "--reason", "cleanup");
        await call;

        Assert.True(pending.ExitCode == ExitCodes.Ok, pending.ToString());
        var item = Assert.Single(JsonNode.Parse(pending.Out)!["items"]!.AsArray(), i => i!["id"]!.GetValue<string>() == id.ToString())!;
        Assert.Equal("pending", item["status"]!.GetValue<string>());
        Assert.True(item["youMayDecide"]!.GetValue<bool>());
        Assert.True(show.ExitCode == ExitCodes.Ok, show.ToString());
        var view = JsonNode.Parse(show.Out)!;
        Assert.Equal(("agent", "write_file", "writes-need-approval"), (view["agentId"]!.GetValue<string>(), view["tool"]!.GetValue<string>(), view["rule"]!.GetValue<string>()));
        Assert.Equal("j", view["arguments"]!["content"]!.GetValue<string>());
        Assert.Matches(@"\nRule: +writes-need-approval: every write is seen by a person\n", text.Out);
        Assert.Contains("\"content\": \"j\"", text.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Approve_EditedArgumentsFromAFile_TheEditedArgumentsRun()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.ApproverToken);
        await using var agent = await gateway.ConnectAgentAsync(timeout.Token);
        var (call, id, path) = await gateway.HeldWriteAsync(agent, "cli-editable.txt", "rm -rf /", timeout.Token);
        var edits = Path.Combine(person.ConfigHome, "edits.json");
        await File.WriteAllTextAsync(edits, new JsonObject { ["path"] = path, ["content"] = "fixed by ops" }.ToJsonString(), timeout.Token);

        var approve = await person.InvokeAsync(null, "approve", id.ToString(), "--edit-arguments", "@" + edits, "--json");
        var result = await call;

        Assert.True(approve.ExitCode == ExitCodes.Ok, approve.ToString());
        Assert.True(JsonNode.Parse(approve.Out)!["accepted"]!.GetValue<bool>());
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("fixed by ops", await File.ReadAllTextAsync(path, timeout.Token));
    }

    [Fact]
    public async Task AuditQuery_LimitOneWithAll_FollowsEveryCursor()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.AuditorToken);
        await using var agent = await gateway.ConnectAgentAsync(timeout.Token);
        for (var i = 0; i < 3; i++)
        {
            await agent.CallToolAsync("fs__list_directory", new Dictionary<string, object?> { ["path"] = gateway.Sandbox }, cancellationToken: timeout.Token);
        }

        var first = await person.InvokeAsync(null, "audit", "query", "--tool-name", "fs__list_directory", "--limit", "1", "--json");
        var all = await person.InvokeAsync(null, "audit", "query", "--tool-name", "fs__list_directory", "--limit", "1", "--all", "--json");
        var table = await person.InvokeAsync(null, "audit", "query", "--tool-name", "fs__list_directory", "--limit", "2");

        Assert.True(first.ExitCode == ExitCodes.Ok, first.ToString());
        Assert.Single(JsonNode.Parse(first.Out)!["items"]!.AsArray());
        Assert.NotNull(JsonNode.Parse(first.Out)!["nextCursor"]);
        Assert.True(all.ExitCode == ExitCodes.Ok, all.ToString());
        var items = JsonNode.Parse(all.Out)!["items"]!.AsArray();
        Assert.Equal(3, items.Count);
        Assert.Equal(3, items.Select(i => i!["id"]!.ToString()).Distinct().Count());
        Assert.All(items, i => Assert.Equal(("fs__list_directory", "allow"), (i!["toolName"]!.GetValue<string>(), i["decision"]!.GetValue<string>())));
        Assert.Null(JsonNode.Parse(all.Out)!["nextCursor"]);
        Assert.Equal(3, table.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("AT ", table.Out, StringComparison.Ordinal);
        Assert.Contains("there are more: add --all", table.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditQuery_Workflows_ListsADeniedApprovalWithWhoDecided()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var approver = new CliUser(gateway);
        using var auditor = new CliUser(gateway);
        await approver.LoginAsync(gateway.Url, gateway.ApproverToken);
        await auditor.LoginAsync(gateway.Url, gateway.AuditorToken);
        await using var agent = await gateway.ConnectAgentAsync(timeout.Token);
        var (call, id, _) = await gateway.HeldWriteAsync(agent, "cli-audited.txt", "a", timeout.Token);
        await approver.InvokeAsync(null, "deny", id.ToString(), "--reason", "audited");
        await call;

        var workflows = await auditor.InvokeAsync(null, "audit", "query", "--workflows", "--status", "denied", "--json");
        var misplaced = await auditor.InvokeAsync(null, "audit", "query", "--workflows", "--decision", "allow");
        var forbidden = await approver.InvokeAsync(null, "audit", "query");

        Assert.True(workflows.ExitCode == ExitCodes.Ok, workflows.ToString());
        var denied = Assert.Single(JsonNode.Parse(workflows.Out)!["items"]!.AsArray(), w => w!["id"]!.GetValue<string>() == id.ToString())!;
        Assert.Equal(("denied", "ops@example.com", "audited"), (denied["status"]!.GetValue<string>(), denied["decidedBy"]![0]!.GetValue<string>(), denied["reason"]!.GetValue<string>()));
        Assert.True(misplaced.ExitCode == ExitCodes.Usage, misplaced.ToString());
        Assert.True(forbidden.ExitCode == ExitCodes.NotAuthorized, forbidden.ToString());
        Assert.Contains("(HTTP 403)", forbidden.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_ToAFileAndToStandardOutput_TheSameEventsOnePerLine()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.AuditorToken);
        await using var agent = await gateway.ConnectAgentAsync(timeout.Token);
        await agent.CallToolAsync("fs__list_allowed_directories", new Dictionary<string, object?>(), cancellationToken: timeout.Token);
        var file = Path.Combine(person.ConfigHome, "audit.ndjson");
        var to = DateTimeOffset.UtcNow.AddSeconds(1).ToString("O", System.Globalization.CultureInfo.InvariantCulture);

        var toFile = await person.InvokeAsync(null, "export", "--kinds", "tool_call", "--to", to, "-o", file);
        var toOut = await person.InvokeAsync(null, "export", "--kinds", "tool_call", "--to", to);

        Assert.True(toFile.ExitCode == ExitCodes.Ok, toFile.ToString());
        var lines = await File.ReadAllLinesAsync(file, timeout.Token);
        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.Equal("tool_call", JsonNode.Parse(line)!["event_type"]!.GetValue<string>()));
        Assert.Contains(lines, line => line.Contains("fs__list_allowed_directories", StringComparison.Ordinal));
        Assert.Equal($"Exported {lines.Length} events to {file}.", toFile.Error.Trim());
        Assert.False(File.Exists(file + ".partial"));
        Assert.True(toOut.ExitCode == ExitCodes.Ok, toOut.ToString());
        Assert.Equal(lines, toOut.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Verify_IntactThenOneEventAltered_ExitsZeroThenOneNamingTheApproval()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var approver = new CliUser(gateway);
        using var auditor = new CliUser(gateway);
        await approver.LoginAsync(gateway.Url, gateway.ApproverToken);
        await auditor.LoginAsync(gateway.Url, gateway.AuditorToken);
        await using var agent = await gateway.ConnectAgentAsync(timeout.Token);
        var (call, id, _) = await gateway.HeldWriteAsync(agent, "cli-verified.txt", "v", timeout.Token);
        await approver.InvokeAsync(null, "deny", id.ToString(), "--reason", "for the chain");
        await call;

        var intact = await auditor.InvokeAsync(null, "verify");
        await TamperAsync(id);
        var broken = await auditor.InvokeAsync(null, "verify");
        var brokenJson = await auditor.InvokeAsync(null, "verify", "--json");

        Assert.True(intact.ExitCode == ExitCodes.Ok, intact.ToString());
        Assert.StartsWith("All audit chains verify: ", intact.Out, StringComparison.Ordinal);
        Assert.True(broken.ExitCode == ExitCodes.CheckFailed, broken.ToString());
        Assert.Contains(broken.Out.Split('\n'), line => line.StartsWith("workflow", StringComparison.Ordinal) && line.Contains(id.ToString(), StringComparison.Ordinal));
        Assert.True(brokenJson.ExitCode == ExitCodes.CheckFailed, brokenJson.ToString());
        var report = JsonNode.Parse(brokenJson.Out)!;
        Assert.False(report["valid"]!.GetValue<bool>());
        Assert.Contains(report["workflows"]!["broken"]!.AsArray(), b => b!["approvalId"]!.GetValue<string>() == id.ToString());
    }

    [Fact]
    public async Task PolicyExplain_GatedWrite_SaysApproveWithTheRuleAndTheTrace()
    {
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.AuditorToken);
        var arguments = """{"path": "/tmp/x.txt", "content": "c"}""";

        var json = await person.InvokeAsync(null, "policy", "explain", "--agent", "agent", "--tool", "fs__write_file", "--arguments", arguments, "--json");
        var text = await person.InvokeAsync(arguments, "policy", "explain", "--agent", "agent", "--tool", "fs__write_file", "--arguments", "@-");
        var unknown = await person.InvokeAsync(null, "policy", "explain", "--agent", "nobody", "--tool", "fs__write_file");
        var notJson = await person.InvokeAsync(null, "policy", "explain", "--agent", "agent", "--tool", "fs__write_file", "--arguments", "{path:");

        Assert.True(json.ExitCode == ExitCodes.Ok, json.ToString());
        var explanation = JsonNode.Parse(json.Out)!;
        Assert.Equal(("approve", "writes-need-approval"), (explanation["decision"]!.GetValue<string>(), explanation["rule"]!.GetValue<string>()));
        Assert.True(text.ExitCode == ExitCodes.Ok, text.ToString());
        Assert.Contains("Decision: approve", text.Out, StringComparison.Ordinal);
        Assert.Contains("  1. editable-writes", text.Out, StringComparison.Ordinal);
        Assert.Contains("  2. writes-need-approval", text.Out, StringComparison.Ordinal);
        Assert.True(unknown.ExitCode == ExitCodes.NotFound, unknown.ToString());
        Assert.Contains("There is no agent 'nobody'.", unknown.Error, StringComparison.Ordinal);
        Assert.True(notJson.ExitCode == ExitCodes.Usage, notJson.ToString());
    }

    [Fact]
    public async Task Run_EnvironmentNamesAnotherGatewayThanTheStoredToken_RefusesToSendIt()
    {
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.ApproverToken);
        person.Environment["APPROVALS_URL"] = "http://127.0.0.2:9";

        var pending = await person.InvokeAsync(null, "pending");

        Assert.True(pending.ExitCode == ExitCodes.NotAuthorized, pending.ToString());
        Assert.Contains("The stored token is for ", pending.Error, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Run_CredentialsFileReadableByOthers_IsRefused()
    {
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.ApproverToken);
        File.SetUnixFileMode(person.CredentialsPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var pending = await person.InvokeAsync(null, "pending");

        Assert.True(pending.ExitCode == ExitCodes.NotAuthorized, pending.ToString());
        Assert.Contains("can be read by other users", pending.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_AfterLogin_RemovesTheCredentialsAndCommandsNeedALoginAgain()
    {
        using var person = new CliUser(gateway);
        await person.LoginAsync(gateway.Url, gateway.ApproverToken);

        var logout = await person.InvokeAsync(null, "logout");
        var pending = await person.InvokeAsync(null, "pending");

        Assert.True(logout.ExitCode == ExitCodes.Ok, logout.ToString());
        Assert.False(File.Exists(person.CredentialsPath));
        Assert.True(pending.ExitCode == ExitCodes.NotAuthorized, pending.ToString());
        Assert.Contains("Not logged in", pending.Error, StringComparison.Ordinal);
    }

    private async Task TamperAsync(Guid approvalId)
    {
        // As an attacker with database access would: past the append-only trigger, one byte of one event.
        await using var connection = new NpgsqlConnection(gateway.Gateway.ConnectionString);
        await connection.OpenAsync();
        await using (var replica = new NpgsqlCommand("SET session_replication_role = replica", connection))
        {
            await replica.ExecuteNonQueryAsync();
        }

        await using var update = new NpgsqlCommand("UPDATE wf_event SET body = body || ' ' WHERE wf_id = $1 AND seq = 1", connection);
        update.Parameters.Add(new NpgsqlParameter { Value = approvalId });
        Assert.Equal(1, await update.ExecuteNonQueryAsync());
    }
}
