using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ApprovalEngine.Notifiers.Slack;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Tests.Slack;

/// <summary>Clicks that must not decide anything, and clicks that race: one decision, whatever arrives.</summary>
[Collection(SlackHttpCollection.Name)]
public sealed class SlackRefusalTests(SlackHttpGateway slack)
{
    private FakeSlack Fake => slack.Slack;

    private WorkflowRuntime Runtime => slack.Gateway.Get<WorkflowRuntime>();

    public static TheoryData<string> Forgeries => ["wrong secret", "stale timestamp", "future timestamp", "unsigned"];

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task ApproveClick_NotValidlySigned_401AndNothingChanges(string forgery)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var held = await slack.HoldAsync(client, $"forged-{forgery.Replace(' ', '-')}.txt", "x", timeout.Token);
        var before = await FootprintAsync(held.Id);
        var hook = Fake.HookUrl("forged-" + held.Id);

        // An approve by a real approver's Slack user: only the signature is wrong.
        var body = SlackClicks.Form(SlackClicks.BlockAction("U0OPS", held.Id, ApprovalCard.ApproveAction, slack.ChannelMessage(held.Id), hook));
        var request = forgery switch
        {
            "wrong secret" => SlackClicks.Signed(body, secret: "not-the-signing-secret"),
            "stale timestamp" => SlackClicks.Signed(body, at: DateTimeOffset.UtcNow.AddMinutes(-6)),
            "future timestamp" => SlackClicks.Signed(body, at: DateTimeOffset.UtcNow.AddMinutes(6)),
            _ => SlackClicks.Signed(body, secret: null),
        };
        var status = await PostAsync(request);
        await Task.Delay(500, timeout.Token);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(before, await FootprintAsync(held.Id));
        Assert.Empty(Replies(hook));
        Assert.False(held.Call.IsCompleted);
    }

    [Fact]
    public async Task Click_ReplayedWithinTheWindow_401AndNothingChanges()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var held = await slack.HoldAsync(client, "replayed.txt", "x", timeout.Token);
        var body = SlackClicks.Form(SlackClicks.BlockAction("U0OPS", held.Id, ApprovalCard.DenyAction, slack.ChannelMessage(held.Id), Fake.HookUrl("replay-" + held.Id)));
        var at = DateTimeOffset.UtcNow;

        var first = await PostAsync(SlackClicks.Signed(body, at: at));
        await SlackGatewayBase.WaitAsync(() => ModalsFor(held.Id) == 1, "the first delivery opens the deny modal", timeout.Token);
        var before = await FootprintAsync(held.Id);
        var replayed = await PostAsync(SlackClicks.Signed(body, at: at));
        await Task.Delay(500, timeout.Token);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Unauthorized), (first, replayed));
        Assert.Equal(1, ModalsFor(held.Id));
        Assert.Equal(before, await FootprintAsync(held.Id));
    }

    [Theory]
    [InlineData("U0STRANGER", "stranger@example.com is not an approver of group ops")]
    [InlineData("U0OWNER", "owner@example.com owns agent agent and may not approve its own request")]
    public async Task ApproveClick_ByOutsiderOrTheAgentsOwner_EphemeralRefusalAuditedAndNothingChanges(string userId, string reason)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var held = await slack.HoldAsync(client, $"refused-{userId}.txt", "x", timeout.Token);
        var before = await FootprintAsync(held.Id);
        var hook = Fake.HookUrl("refused-" + held.Id);

        var status = await PostAsync(SlackClicks.Signed(SlackClicks.Form(
            SlackClicks.BlockAction(userId, held.Id, ApprovalCard.ApproveAction, slack.ChannelMessage(held.Id), hook))));
        await SlackGatewayBase.WaitAsync(() => Replies(hook).Count == 1, "the clicker is answered", timeout.Token);
        await Task.Delay(300, timeout.Token);

        Assert.Equal(HttpStatusCode.OK, status);
        var reply = Replies(hook).Single();
        Assert.Equal(("ephemeral", false), (reply["response_type"]!.GetValue<string>(), reply["replace_original"]!.GetValue<bool>()));
        Assert.Equal($":no_entry: You are not authorised to decide this request: {reason}.", reply["text"]!.GetValue<string>());
        Assert.Equal(before with { Refusals = before.Refusals + 1 }, await FootprintAsync(held.Id));
        Assert.Equal(1, await slack.CountAsync($"SELECT count(*) FROM slack_refusal WHERE approval_id = $1 AND user_id = '{userId}' AND action = 'approve' AND reason = '{reason}'", held.Id));
        Assert.False(held.Call.IsCompleted);
    }

    [Fact]
    public async Task ApproveClick_DoubleClick_OneDecision()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var held = await slack.HoldAsync(client, "double-click.txt", "once", timeout.Token);
        var hook = Fake.HookUrl("double-" + held.Id);
        var message = slack.ChannelMessage(held.Id);

        // Two clicks of the same button by the same person: two deliveries, each with its own action_ts.
        var statuses = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => PostAsync(SlackClicks.Signed(SlackClicks.Form(
            SlackClicks.BlockAction("U0OPS", held.Id, ApprovalCard.ApproveAction, message, hook))))));
        var result = await held.Call.WaitAsync(timeout.Token);
        await SlackGatewayBase.WaitAsync(() => Replies(hook).Count == 2, "both clicks are answered", timeout.Token);
        var history = await Runtime.GetHistoryAsync(held.Id);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.NotEqual(true, result.IsError);
        Assert.Equal((1, 1, 1), (history.Count(h => h.Type == "vote_recorded"), history.Count(h => h.Type == "approved"), history.Count(h => h.Type == "execution_started")));
        var texts = Replies(hook).Select(r => r["text"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
        Assert.StartsWith("Nothing changed: The request was already approved by ops@example.com", texts[0], StringComparison.Ordinal);
        Assert.Equal("Recorded: Approved by ops@example.com.", texts[1]);
    }

    [Fact]
    public async Task ApproveClicks_TwoApproversAtOnce_OneDecisionAndTheOtherIsToldWhoWon()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var held = await slack.HoldAsync(client, "race.txt", "once", timeout.Token);
        var message = slack.ChannelMessage(held.Id);
        var hooks = new Dictionary<string, Uri> { ["U0OPS"] = Fake.HookUrl("race-ops-" + held.Id), ["U0LEAD"] = Fake.HookUrl("race-lead-" + held.Id) };

        await Task.WhenAll(hooks.Select(h => PostAsync(SlackClicks.Signed(SlackClicks.Form(
            SlackClicks.BlockAction(h.Key, held.Id, ApprovalCard.ApproveAction, message, h.Value))))));
        await held.Call.WaitAsync(timeout.Token);
        await SlackGatewayBase.WaitAsync(() => hooks.Values.All(h => Replies(h).Count == 1), "both approvers are answered", timeout.Token);
        var state = (await Runtime.GetAsync(held.Id))!.State;
        var history = await Runtime.GetHistoryAsync(held.Id);

        var winner = Assert.Single(state.DecidedBy);
        Assert.Equal(1, history.Count(h => h.Type == "approved"));
        Assert.Equal(1, history.Count(h => h.Type == "execution_started"));
        var winnerUser = winner.StartsWith("ops", StringComparison.Ordinal) ? "U0OPS" : "U0LEAD";
        var loserUser = winnerUser == "U0OPS" ? "U0LEAD" : "U0OPS";
        Assert.Equal($"Recorded: Approved by {winner}.", Replies(hooks[winnerUser]).Single()["text"]!.GetValue<string>());
        Assert.StartsWith($"Nothing changed: The request was already approved by {winner}", Replies(hooks[loserUser]).Single()["text"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>What a click that changes nothing must leave as it was.</summary>
    private sealed record Footprint(int Version, ApprovalStatus Status, long Signals, long Refusals, int Updates);

    private async Task<Footprint> FootprintAsync(Guid id)
    {
        var snapshot = (await Runtime.GetAsync(id))!;
        var messages = Fake.MessagesOf(id).Keys.ToHashSet();
        return new Footprint(
            snapshot.Version,
            snapshot.State.Status,
            await slack.CountAsync("SELECT count(*) FROM wf_signal WHERE wf_id = $1", id),
            await slack.CountAsync("SELECT count(*) FROM slack_refusal WHERE approval_id = $1", id),
            Fake.CallsOf("chat.update").Count(c => messages.Contains((c.Body["channel"]!.GetValue<string>(), c.Body["ts"]!.GetValue<string>()))));
    }

    private async Task<HttpStatusCode> PostAsync(HttpRequestMessage request)
    {
        using var http = slack.Gateway.CreateHttpClient();
        var clock = Stopwatch.StartNew();
        using var response = await http.SendAsync(request);
        request.Dispose();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"answered after {clock.Elapsed}");
        return response.StatusCode;
    }

    private int ModalsFor(Guid id) =>
        Fake.CallsOf("views.open").Count(c => c.Body["view"]!["private_metadata"]!.GetValue<string>().Contains(id.ToString("D"), StringComparison.Ordinal));

    private List<JsonObject> Replies(Uri hook) => [.. Fake.Responses.Where(r => hook.AbsolutePath == "/hooks/" + r.Name).Select(r => r.Body)];
}
