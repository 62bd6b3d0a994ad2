using System.Text.Json.Nodes;
using ApprovalEngine.Notifiers.Teams;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Teams;

public sealed class TeamsApprovalTests(TeamsGateway teams) : IClassFixture<TeamsGateway>
{
    [Fact]
    public async Task GatedCall_PostsTheCardToTheChannel_WithFactsAndARefreshForTheApproversOnly()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await teams.ConnectAsync(timeout.Token);
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = Path.Combine(teams.Sandbox, "card.txt"), ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        var pending = await teams.PendingAsync("card.txt", timeout.Token);

        var post = await teams.CardCallAsync(pending.Id, "POST", timeout.Token);
        var card = TeamsGateway.CardOf(post.Body);
        var facts = card["body"]!.AsArray().Single(b => b!["type"]!.GetValue<string>() == "FactSet")!["facts"]!.AsArray()
            .ToDictionary(f => f!["title"]!.GetValue<string>(), f => f!["value"]!.GetValue<string>());
        var refresh = card["refresh"]!;
        var (approverStatus, approverView) = await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.RefreshVerb, "ops"));
        var (outsiderStatus, outsiderView) = await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.RefreshVerb, "outsider"));

        Assert.Equal(TeamsGateway.ChannelId, post.Conversation);
        Assert.Equal("Bearer " + FakeMicrosoft.AccessToken, post.Authorization);
        Assert.Equal("message", post.Body["type"]!.GetValue<string>());
        Assert.Equal("application/vnd.microsoft.card.adaptive", post.Body["attachments"]![0]!["contentType"]!.GetValue<string>());
        Assert.Equal(("AdaptiveCard", "1.5"), (card["type"]!.GetValue<string>(), card["version"]!.GetValue<string>()));
        Assert.Null(card["actions"]);
        Assert.Equal(("Action.Execute", "approval.refresh"), (refresh["action"]!["type"]!.GetValue<string>(), refresh["action"]!["verb"]!.GetValue<string>()));
        Assert.Equal(["29:ops", "29:owner", "29:second"], refresh["userIds"]!.AsArray().Select(u => u!.GetValue<string>()).Order());
        Assert.Equal(pending.Id.ToString("D"), facts["Approval"]);
        Assert.Equal(("agent", "owner@example.com", "fs__write_file", "default"), (facts["Agent"], facts["Owner"], facts["Tool"], facts["Rule"]));
        Assert.Contains("ops@example.com", facts["Approvers"], StringComparison.Ordinal);
        Assert.Contains("card.txt", card.ToJsonString(), StringComparison.Ordinal);

        Assert.Equal((200, 200), (approverStatus, approverView["statusCode"]!.GetValue<int>()));
        var actions = approverView["value"]!["actions"]!.AsArray();
        Assert.Equal(["approval.approve", "approval.deny"], actions.Select(a => a!["verb"]!.GetValue<string>()));
        Assert.All(actions, a => Assert.Equal("Action.Execute", a!["type"]!.GetValue<string>()));
        Assert.Contains(approverView["value"]!["body"]!.AsArray(), b => b!["type"]!.GetValue<string>() == "Input.Text" && b["id"]!.GetValue<string>() == "reason");
        Assert.Equal(200, outsiderStatus);
        Assert.Null(outsiderView["value"]!["actions"]);

        await teams.Gateway.Get<WorkflowRuntime>().SignalAsync(pending.Id, new SignalRequest(SignalNames.Cancel, "cleanup-" + pending.Id, "ops@example.com"));
        await call;
    }

    [Fact]
    public async Task ApproveInvoke_ResumesTheHeldCall_AnswersWithTheFinalCard_AndPutsItForEveryone()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await teams.ConnectAsync(timeout.Token);
        var target = Path.Combine(teams.Sandbox, "approved.txt");
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "approved in teams" }, cancellationToken: timeout.Token).AsTask();
        var pending = await teams.PendingAsync("approved.txt", timeout.Token);
        var post = await teams.CardCallAsync(pending.Id, "POST", timeout.Token);
        var writtenBefore = File.Exists(target);

        var (status, answer) = await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.ApproveVerb, "ops"));
        var result = await call;
        var put = await PutShowingAsync(post.ResultId!, "completed", timeout.Token);

        Assert.False(writtenBefore);
        Assert.Equal((200, 200, "application/vnd.microsoft.card.adaptive"), (status, answer["statusCode"]!.GetValue<int>(), answer["type"]!.GetValue<string>()));
        var clickerCard = answer["value"]!.AsObject();
        Assert.Null(clickerCard["actions"]);
        Assert.Null(clickerCard["refresh"]);
        Assert.Contains("by ops@example.com", clickerCard.ToJsonString(), StringComparison.Ordinal);
        Assert.NotEqual(true, result.IsError);
        Assert.Contains("Successfully wrote", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text, StringComparison.Ordinal);
        Assert.Equal("approved in teams", await File.ReadAllTextAsync(target, timeout.Token));
        Assert.Equal(TeamsGateway.ChannelId, put.Conversation);
        Assert.Null(TeamsGateway.CardOf(put.Body)["refresh"]);
        var history = await teams.Gateway.Get<WorkflowRuntime>().GetHistoryAsync(pending.Id);
        Assert.Equal(1, history.Count(h => h.Type == "execution_started"));
    }

    [Fact]
    public async Task DenyInvoke_WithAReason_TheAgentGetsTheReasonAndNothingRuns()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await teams.ConnectAsync(timeout.Token);
        var target = Path.Combine(teams.Sandbox, "denied.txt");
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        var pending = await teams.PendingAsync("denied.txt", timeout.Token);
        await teams.CardCallAsync(pending.Id, "POST", timeout.Token);

        var (status, answer) = await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.DenyVerb, "second", reason: "not during the freeze"));
        var result = await call;

        Assert.Equal((200, 200), (status, answer["statusCode"]!.GetValue<int>()));
        Assert.True(result.IsError);
        Assert.Equal($"Approval {pending.Id} was denied by second@example.com: not during the freeze", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task Outbound_TheEntraTokenIsFetchedOnceForTheTenantAndCached()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await teams.ConnectAsync(timeout.Token);
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = Path.Combine(teams.Sandbox, "token.txt"), ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        var pending = await teams.PendingAsync("token.txt", timeout.Token);
        await teams.CardCallAsync(pending.Id, "POST", timeout.Token);
        await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.DenyVerb, "ops"));
        await call;

        var request = Assert.Single(teams.Microsoft.TokenRequests);
        Assert.Equal((FakeMicrosoft.TenantId, FakeMicrosoft.AppId, FakeMicrosoft.AppPassword, "https://api.botframework.com/.default"), request);
        Assert.All(teams.Microsoft.Calls, c => Assert.Equal("Bearer " + FakeMicrosoft.AccessToken, c.Authorization));
    }

    [Fact]
    public async Task Throttled_ThePostIsRetriedByTheDurableNotifyTask()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await teams.ConnectAsync(timeout.Token);
        teams.Microsoft.FailNext(429, 502);
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = Path.Combine(teams.Sandbox, "throttled.txt"), ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        var pending = await teams.PendingAsync("throttled.txt", timeout.Token);

        var post = await teams.CardCallAsync(pending.Id, "POST", timeout.Token);
        var failed = teams.Microsoft.Calls.Where(c => c.Status is 429 or 502).ToList();

        Assert.Equal(2, failed.Count);
        Assert.Equal(200, post.Status);
        await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.DenyVerb, "ops"));
        await call;
    }

    private async Task<FakeMicrosoft.ConnectorCall> PutShowingAsync(string activityId, string status, CancellationToken ct)
    {
        while (true)
        {
            if (teams.Microsoft.Calls.FirstOrDefault(c => c.Method == "PUT" && c.ActivityId == activityId && c.Status == 200
                && TeamsGateway.CardOf(c.Body).ToJsonString().Contains("Status: " + status, StringComparison.Ordinal)) is { } put)
            {
                return put;
            }

            await Task.Delay(50, ct);
        }
    }
}
