using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Playwright;
using ModelContextProtocol.Protocol;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace ApprovalEngine.Gateway.Tests.WebConsole;

/// <summary>
/// The console in Chromium against the real gateway: a real agent's gated call to the real filesystem server,
/// decided by a person in the browser.
/// </summary>
public sealed partial class ConsoleBrowserTests(ConsoleGateway fixture, ITestOutputHelper output) : IClassFixture<ConsoleGateway>
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);

    static ConsoleBrowserTests() => SetDefaultExpectTimeout(20_000);

    [Fact]
    public async Task Inbox_HeldCallApprovedInTheBrowser_TheAgentsCallCompletesAndTheAuditorSeesAVerifiedTimeline()
    {
        using var timeout = new CancellationTokenSource(CallTimeout);
        var target = Path.Combine(fixture.Sandbox, "story.txt");
        await using var approver = await fixture.OpenAsync(output);
        await approver.SignInAsync(fixture.ApproverToken);
        await Expect(approver.Heading("Inbox")).ToBeVisibleAsync();
        await Expect(approver.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Live" })).ToBeVisibleAsync();
        await using var agent = await fixture.ConnectAgentAsync(timeout.Token);

        var started = Stopwatch.GetTimestamp();
        var call = agent.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "written after approval" }, cancellationToken: timeout.Token).AsTask();
        var request = approver.Row("story.txt").GetByRole(AriaRole.Link, new() { Name = "write_file on fs, by agent" });
        await Expect(request).ToBeVisibleAsync();
        var appeared = Stopwatch.GetElapsedTime(started);
        await request.ClickAsync();
        await Expect(approver.Heading("Approval: write_file on fs, by agent")).ToBeVisibleAsync();
        var id = Guid.Parse(ApprovalIdPattern().Match(approver.Page.Url).Groups[1].Value);
        await Expect(approver.Page.GetByText("writes-need-approval", new() { Exact = true })).ToBeVisibleAsync();
        await approver.AssertCleanAsync();
        var writtenBeforeApproval = File.Exists(target);
        await approver.Button("Approve").ClickAsync();
        var result = await call.WaitAsync(timeout.Token);
        await Expect(approver.Page.Locator(".status-line")).ToContainTextAsync("Completed");

        Assert.False(writtenBeforeApproval);
        Assert.NotEqual(true, result.IsError);
        Assert.Contains("Successfully wrote", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text, StringComparison.Ordinal);
        Assert.Equal("written after approval", await File.ReadAllTextAsync(target, timeout.Token));
        var history = await fixture.Gateway.Get<WorkflowRuntime>().GetHistoryAsync(id);
        Assert.Equal(1, history.Count(h => h.Type == "execution_started"));
        var audit = await fixture.Gateway.Get<ToolCallAuditQueries>().QueryAsync(new ToolCallAuditFilter { ToolName = "fs__write_file" }, timeout.Token);
        var ran = audit.Items.Where(e => e.Record.ApprovalId == id && e.Record.Outcome != ToolCallOutcome.Pending).ToList();
        Assert.Equal(ToolCallOutcome.Ok, Assert.Single(ran).Record.Outcome);
        TestFigures.Report("console: held call shown in the inbox after", $"{appeared.TotalMilliseconds:F0} ms (one run, loopback)", output);

        // The auditor searches the tool-call audit, opens the call's approval and sees its history verified.
        await using var auditor = await fixture.OpenAsync(output);
        await auditor.SignInAsync(fixture.AuditorToken);
        await auditor.Link("Audit").ClickAsync();
        await Expect(auditor.Heading("Audit")).ToBeVisibleAsync();
        await auditor.Page.GetByLabel("Tool name as the agent called it").FillAsync("fs__write_file");
        await auditor.Page.GetByLabel("Decision", new() { Exact = true }).SelectOptionAsync("approve");
        await auditor.Button("Search").ClickAsync();
        await auditor.Row("story.txt").First.GetByRole(AriaRole.Link, new() { Name = $"Open approval {id}" }).ClickAsync();

        await Expect(auditor.Heading("Approval: write_file on fs, by agent")).ToBeVisibleAsync();
        await Expect(auditor.Page.Locator("[data-chain]")).ToHaveAttributeAsync("data-chain", "verified");
        await Expect(auditor.Page.Locator("[data-chain]")).ToContainTextAsync("Verified");
        await Expect(auditor.Page.GetByRole(AriaRole.List).Filter(new() { HasText = "execution_started" })).ToBeVisibleAsync();
        await Expect(auditor.Page.GetByText("ops@example.com").First).ToBeVisibleAsync();
        await auditor.AssertCleanAsync();

        // And among the approvals: those ops@example.com decided that completed.
        await auditor.Link("Audit").ClickAsync();
        await auditor.Page.GetByRole(AriaRole.Radio, new() { Name = "Approvals" }).CheckAsync();
        await auditor.Page.GetByLabel("Approver").FillAsync("ops@example.com");
        await auditor.Page.GetByLabel("Status").SelectOptionAsync("completed");
        await auditor.Button("Search").ClickAsync();
        await Expect(auditor.Row("story.txt").GetByRole(AriaRole.Link, new() { Name = "write_file on fs, by agent" })).ToBeVisibleAsync();
        await Expect(auditor.Row("story.txt")).ToContainTextAsync("Completed");
        Assert.Contains("approver=ops%40example.com", auditor.Page.Url, StringComparison.Ordinal);
        await approver.AssertCleanAsync();
        await auditor.AssertCleanAsync();
    }

    [Fact]
    public async Task Audit_SearchFromTheAddressOnePerPage_LoadMoreAddsTheNextPage()
    {
        using var timeout = new CancellationTokenSource(CallTimeout);
        await using var agent = await fixture.ConnectAgentAsync(timeout.Token);
        var first = await agent.CallToolAsync("fs__list_allowed_directories", cancellationToken: timeout.Token);
        var second = await agent.CallToolAsync("fs__list_allowed_directories", cancellationToken: timeout.Token);
        await using var auditor = await fixture.OpenAsync(output, "/console/audit?kind=tool-calls&toolName=fs__list_allowed_directories&limit=1");
        await auditor.SignInAsync(fixture.AuditorToken);
        var rows = auditor.Page.GetByRole(AriaRole.Table).GetByRole(AriaRole.Row).Filter(new() { HasText = "fs__list_allowed_directories" });

        await Expect(auditor.Page.GetByLabel("Tool name as the agent called it")).ToHaveValueAsync("fs__list_allowed_directories");
        await Expect(rows).ToHaveCountAsync(1);
        await auditor.Button("Load more").ClickAsync();
        await Expect(rows).ToHaveCountAsync(2);

        Assert.NotEqual(true, first.IsError);
        Assert.NotEqual(true, second.IsError);
        await Expect(auditor.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "2 tool calls shown" })).ToBeVisibleAsync();
        await auditor.AssertCleanAsync();
    }

    [Fact]
    public async Task Approve_KeyboardOnly_TheAgentsCallCompletes()
    {
        using var timeout = new CancellationTokenSource(CallTimeout);
        var target = Path.Combine(fixture.Sandbox, "keyboard.txt");
        await using var approver = await fixture.OpenAsync(output);
        var tokenField = approver.Page.GetByLabel("API token");
        await approver.TabToAsync(tokenField);
        await approver.Page.Keyboard.InsertTextAsync(fixture.ApproverToken);
        await approver.Page.Keyboard.PressAsync("Enter");
        await Expect(approver.Heading("Inbox")).ToBeVisibleAsync();
        await using var agent = await fixture.ConnectAgentAsync(timeout.Token);

        var call = agent.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "keyboard" }, cancellationToken: timeout.Token).AsTask();
        var request = approver.Row("keyboard.txt").GetByRole(AriaRole.Link);
        await Expect(request).ToBeVisibleAsync();
        await approver.TabToAsync(request);
        await approver.Page.Keyboard.PressAsync("Enter");
        await Expect(approver.Heading("Approval: write_file on fs, by agent")).ToBeFocusedAsync();

        // Deny… opens a dialog; Escape closes it without deciding and gives the focus back.
        var deny = approver.Button("Deny…");
        await approver.TabToAsync(deny);
        await approver.Page.Keyboard.PressAsync("Enter");
        await Expect(approver.Page.GetByRole(AriaRole.Dialog, new() { Name = "Deny this request" })).ToBeVisibleAsync();
        await Expect(approver.Page.GetByLabel("Reason (optional)")).ToBeFocusedAsync();
        await approver.Page.Keyboard.PressAsync("Escape");
        await Expect(approver.Page.GetByRole(AriaRole.Dialog)).ToHaveCountAsync(0);
        await Expect(deny).ToBeFocusedAsync();

        await approver.TabToAsync(approver.Button("Approve"), backwards: true);
        await approver.Page.Keyboard.PressAsync("Space");
        var result = await call.WaitAsync(timeout.Token);

        Assert.NotEqual(true, result.IsError);
        Assert.Equal("keyboard", await File.ReadAllTextAsync(target, timeout.Token));
        await approver.AssertCleanAsync();
    }

    [Fact]
    public async Task ApproveWithEdits_InvalidJsonRefusedBeforeSending_ThenTheEditedArgumentsRun()
    {
        using var timeout = new CancellationTokenSource(CallTimeout);
        var target = Path.Combine(fixture.Sandbox, "edited.txt");
        await using var agent = await fixture.ConnectAgentAsync(timeout.Token);
        var call = agent.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "as the agent wrote it" }, cancellationToken: timeout.Token).AsTask();
        var id = await PendingIdAsync("edited.txt", timeout.Token);
        await using var approver = await fixture.OpenAsync(output, $"/console/approvals/{id}");
        await approver.SignInAsync(fixture.ApproverToken);

        await approver.Button("Approve with edits…").ClickAsync();
        var field = approver.Page.GetByLabel("Edited arguments (JSON)");
        await field.FillAsync("{ \"path\": ");
        await approver.Button("Approve edited arguments").ClickAsync();
        await Expect(approver.Page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Alert)).ToContainTextAsync("not valid JSON");
        await Expect(field).ToHaveAttributeAsync("aria-invalid", "true");
        var stillPending = (await fixture.Gateway.Get<WorkflowRuntime>().GetAsync(id, timeout.Token))!.State.Status;
        await field.FillAsync(JsonSerializer.Serialize(new { path = target, content = "as the approver fixed it" }));
        await approver.Button("Approve edited arguments").ClickAsync();
        var result = await call.WaitAsync(timeout.Token);

        Assert.Equal(ApprovalStatus.Pending, stillPending);
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("as the approver fixed it", await File.ReadAllTextAsync(target, timeout.Token));
        await Expect(approver.Page.GetByRole(AriaRole.Heading, new() { Name = "Approved with these edited arguments" })).ToBeVisibleAsync();
        await approver.AssertCleanAsync();
    }

    [Fact]
    public async Task Deny_WithAReason_TheAgentGetsItAndNothingIsWritten()
    {
        using var timeout = new CancellationTokenSource(CallTimeout);
        var target = Path.Combine(fixture.Sandbox, "denied.txt");
        await using var agent = await fixture.ConnectAgentAsync(timeout.Token);
        var call = agent.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        var id = await PendingIdAsync("denied.txt", timeout.Token);
        await using var approver = await fixture.OpenAsync(output, $"/console/approvals/{id}");
        await approver.SignInAsync(fixture.ApproverToken);

        await approver.Button("Deny…").ClickAsync();
        await approver.Page.GetByLabel("Reason (optional)").FillAsync("use the staging bucket");
        await approver.Button("Deny request").ClickAsync();
        var result = await call.WaitAsync(timeout.Token);

        Assert.True(result.IsError);
        Assert.Equal($"Approval {id} was denied by ops@example.com: use the staging bucket", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        Assert.False(File.Exists(target));
        await Expect(approver.Page.Locator(".status-line")).ToContainTextAsync("Denied");
        await approver.AssertCleanAsync();
    }

    [Fact]
    public async Task Audit_PersonWithoutTheAuditorRole_SeesTheRefusal()
    {
        await using var approver = await fixture.OpenAsync(output);
        await approver.SignInAsync(fixture.ApproverToken);

        await approver.Link("Audit").ClickAsync();

        var alert = approver.Page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("Not permitted");
        await Expect(alert).ToContainTextAsync("auditor");
        await Expect(approver.Page.GetByRole(AriaRole.Table)).ToHaveCountAsync(0);
        await approver.AssertCleanAsync();
    }

    [Fact]
    public async Task Approval_PersonWhoIsNotItsApprover_SeesTheRefusalAndNoButtons()
    {
        using var timeout = new CancellationTokenSource(CallTimeout);
        var start = await fixture.Gateway.Get<WorkflowRuntime>().StartAsync($"console-{Guid.NewGuid():N}", new ApprovalRequest
        {
            AgentId = "agent",
            Bundle = "files",
            Upstream = "fs",
            Tool = "write_file",
            Arguments = JsonSerializer.SerializeToElement(new { path = "/elsewhere" }),
            ArgumentsDigest = ArgumentDigest.Compute(JsonSerializer.SerializeToElement(new { path = "/elsewhere" })),
            Approvers = new ApproverStage { Group = "ops", Approvers = ["ops@example.com"], Timeout = TimeSpan.FromHours(1) },
        }, timeout.Token);
        await using var outsider = await fixture.OpenAsync(output, $"/console/approvals/{start.Workflow.Id}");

        await outsider.SignInAsync(fixture.OutsiderToken);

        var alert = outsider.Page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("Not permitted");
        await Expect(alert).ToContainTextAsync("outsider@example.com");
        await Expect(outsider.Button("Approve")).ToHaveCountAsync(0);
        await outsider.AssertCleanAsync();
    }

    [Fact]
    public async Task SignIn_WrongTokenRefused_RightTokenKeptInThisTabOnlyUntilSignOut()
    {
        await using var person = await fixture.OpenAsync(output);
        await Expect(person.Heading("Sign in")).ToBeVisibleAsync();
        await person.AssertCleanAsync();

        await person.Page.GetByLabel("API token").FillAsync("ae_user_not-a-real-token");
        await person.Button("Sign in").ClickAsync();
        await Expect(person.Page.GetByRole(AriaRole.Alert)).ToContainTextAsync("not accepted");
        var storedAfterRefusal = await person.Page.EvaluateAsync<int>("() => sessionStorage.length + localStorage.length");
        await person.SignInAsync(fixture.AuditorToken);
        var session = await person.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('approvalEngine.token')");
        var local = await person.Page.EvaluateAsync<int>("() => localStorage.length");
        await person.Page.ReloadAsync();
        await Expect(person.Heading("Inbox")).ToBeVisibleAsync();
        await person.Button("Sign out").ClickAsync();
        await Expect(person.Heading("Sign in")).ToBeVisibleAsync();
        var afterSignOut = await person.Page.EvaluateAsync<int>("() => sessionStorage.length");

        Assert.Equal(0, storedAfterRefusal);
        Assert.Equal(fixture.AuditorToken, session);
        Assert.Equal(0, local);
        Assert.Equal(0, afterSignOut);
        Assert.DoesNotContain("ae_user_", person.Page.Url, StringComparison.Ordinal);
        await person.AssertCleanAsync();
    }

    [Fact]
    public async Task Status_ShowsTheUpstreamAndTheAgentInTables()
    {
        await using var person = await fixture.OpenAsync(output, "/console/status");
        await person.SignInAsync(fixture.AuditorToken);

        await Expect(person.Heading("Status")).ToBeVisibleAsync();
        var upstreams = person.Page.GetByRole(AriaRole.Table, new() { Name = "Upstream servers" });
        await Expect(upstreams.GetByRole(AriaRole.Row).Filter(new() { HasText = "fs" }).Filter(new() { HasText = "ready" })).ToBeVisibleAsync();
        await Expect(person.Page.GetByRole(AriaRole.Table, new() { Name = "Agents" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "owner@example.com" })).ToBeVisibleAsync();
        await person.AssertCleanAsync();
    }

    private async Task<Guid> PendingIdAsync(string marker, CancellationToken cancellationToken)
    {
        var runtime = fixture.Gateway.Get<WorkflowRuntime>();
        while (true)
        {
            var page = await runtime.QueryAsync(new WorkflowQuery { AgentId = "agent", Status = ApprovalStatus.Pending }, cancellationToken);
            if (page.Items.FirstOrDefault(w => w.State.Request.Arguments.GetRawText().Contains(marker, StringComparison.Ordinal)) is { } found)
            {
                return found.Id;
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    [GeneratedRegex("/console/approvals/([0-9a-f-]{36})")]
    private static partial Regex ApprovalIdPattern();
}
