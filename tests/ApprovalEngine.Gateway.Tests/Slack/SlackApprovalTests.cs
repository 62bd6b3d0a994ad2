using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ApprovalEngine.Notifiers.Slack;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Slack;

[CollectionDefinition(Name)]
public sealed class SlackHttpCollection : ICollectionFixture<SlackHttpGateway>
{
    public const string Name = "Slack over HTTP";
}

/// <summary>Cards, clicks and updates against the fake Slack, over real HTTP with real signatures.</summary>
[Collection(SlackHttpCollection.Name)]
public sealed class SlackApprovalTests(SlackHttpGateway slack)
{
    private const string AwsAccessKey = "AKIA" + "IOSFODNN7EXAMPLE";

    private FakeSlack Fake => slack.Slack;

    [Fact]
    public async Task GatedCall_PostsTheExpectedCardToTheChannelAndEachApprover()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);

        var held = await slack.HoldAsync(client, "card.txt", $"AWS_KEY={AwsAccessKey}", timeout.Token);

        var posts = Fake.CallsOf("chat.postMessage").Where(c => c.Body.ToJsonString().Contains(held.Id.ToString("D"), StringComparison.Ordinal)).ToList();
        Assert.Equal(
            [SlackGatewayBase.Channel, "DU0LEAD", "DU0OPS", "DU0OWNER"],
            posts.Select(p => p.Body["channel"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.All(posts, p => Assert.Equal($"Bearer {FakeSlack.BotToken}", p.Authorization));
        Assert.Equal(["U0LEAD", "U0OPS", "U0OWNER"], Fake.CallsOf("conversations.open").Select(c => c.Body["users"]!.GetValue<string>()).Distinct().Order(StringComparer.Ordinal));

        var card = posts.Single(p => p.Body["channel"]!.GetValue<string>() == SlackGatewayBase.Channel).Body;
        Assert.Equal("Approval needed: agent agent wants to call fs__write_file", card["text"]!.GetValue<string>());
        var blocks = card["blocks"]!.AsArray();
        Assert.Equal(["header", "section", "section", "section", "context", "section", "actions"], blocks.Select(b => b!["type"]!.GetValue<string>()));
        Assert.Equal("Approval needed: fs__write_file", blocks[0]!["text"]!["text"]!.GetValue<string>());
        var fields = string.Join("\n", blocks[1]!["fields"]!.AsArray().Select(f => f!["text"]!.GetValue<string>()));
        Assert.Contains("*Agent*\n`agent`", fields, StringComparison.Ordinal);
        Assert.Contains("*Owner*\nowner@example.com", fields, StringComparison.Ordinal);
        Assert.Contains("*Bundle*\n`files`", fields, StringComparison.Ordinal);
        Assert.Contains("*Upstream / tool*\n`fs` / `write_file`", fields, StringComparison.Ordinal);
        Assert.Contains("*Rule*\n`writes-need-ops`", fields, StringComparison.Ordinal);
        Assert.Contains($"*Deadline*\n<!date^{held.Approval.DeadlineAt.ToUnixTimeSeconds()}^", fields, StringComparison.Ordinal);
        Assert.Contains("*Approvers*\nops (ops@example.com, lead@example.com, owner@example.com)", fields, StringComparison.Ordinal);
        Assert.Contains("*Quorum*\n0 of 1 approval", fields, StringComparison.Ordinal);
        Assert.Equal("*Why approval is needed*\nfiles change only with a human's yes", blocks[2]!["text"]!["text"]!.GetValue<string>());
        var arguments = blocks[3]!["text"]!["text"]!.GetValue<string>();
        Assert.Contains("\"content\": \"AWS_KEY=[redacted:secrets.aws_access_key]\"", arguments, StringComparison.Ordinal);
        Assert.Contains("card.txt", arguments, StringComparison.Ordinal);
        Assert.DoesNotContain(AwsAccessKey, card.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains($"<https://approvals.example.com/console/approvals/{held.Id}|Full request in the console>", blocks[4]!["elements"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith(":hourglass_flowing_sand: *Pending*", blocks[5]!["text"]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(
            [("approval.approve", "primary", held.Id.ToString("D")), ("approval.deny", "danger", held.Id.ToString("D"))],
            blocks[6]!["elements"]!.AsArray().Select(b => (b!["action_id"]!.GetValue<string>(), b["style"]!.GetValue<string>(), b["value"]!.GetValue<string>())));
    }

    [Fact]
    public async Task ApproveClick_ValidlySigned_ResumesTheHeldCallAndUpdatesEveryMessage()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var held = await slack.HoldAsync(client, "approved-in-slack.txt", "from slack", timeout.Token);
        var hook = Fake.HookUrl("approve-" + held.Id);

        var (status, elapsed) = await PostAsync(SlackClicks.Signed(SlackClicks.Form(
            SlackClicks.BlockAction("U0OPS", held.Id, ApprovalCard.ApproveAction, slack.ChannelMessage(held.Id), hook))));
        var result = await held.Call.WaitAsync(timeout.Token);
        await SlackGatewayBase.WaitAsync(() => Fake.MessagesOf(held.Id).Values.All(m => Shows(m, ":white_check_mark: *Approved* by ops@example.com. The call ran")), "every message shows the outcome", timeout.Token);
        await SlackGatewayBase.WaitAsync(() => Replies(hook).Count == 1, "the clicker gets an answer", timeout.Token);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(elapsed < TimeSpan.FromSeconds(3), $"answered after {elapsed}");
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("from slack", await File.ReadAllTextAsync(held.Path, timeout.Token));
        var messages = Fake.MessagesOf(held.Id);
        Assert.Equal(4, messages.Count);
        Assert.All(messages.Values, m => Assert.DoesNotContain(m["blocks"]!.AsArray(), b => b!["type"]!.GetValue<string>() == "actions"));
        Assert.All(messages.Keys, k => Assert.Contains(Fake.CallsOf("chat.update"), c => c.Status == 200 && (c.Body["channel"]!.GetValue<string>(), c.Body["ts"]!.GetValue<string>()) == k));
        Assert.Equal("Recorded: Approved by ops@example.com.", Replies(hook).Single()["text"]!.GetValue<string>());
        Assert.Equal("ephemeral", Replies(hook).Single()["response_type"]!.GetValue<string>());
        var history = await slack.Gateway.Get<WorkflowRuntime>().GetHistoryAsync(held.Id);
        Assert.Equal("ops@example.com", history.Single(h => h.Type == "approved").Actor);
    }

    [Fact]
    public async Task DenyClick_OpensTheReasonModal_SubmissionDeniesWithTheReason()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var held = await slack.HoldAsync(client, "denied-in-slack.txt", "never", timeout.Token);
        var hook = Fake.HookUrl("deny-" + held.Id);

        var (clicked, _) = await PostAsync(SlackClicks.Signed(SlackClicks.Form(
            SlackClicks.BlockAction("U0LEAD", held.Id, ApprovalCard.DenyAction, slack.ChannelMessage(held.Id), hook))));
        await SlackGatewayBase.WaitAsync(() => ViewsFor(held.Id).Count == 1, "the modal opens", timeout.Token);
        var open = ViewsFor(held.Id).Single();
        var view = open.Body["view"]!;
        var (submitted, _) = await PostAsync(SlackClicks.Signed(SlackClicks.Form(
            SlackClicks.DenySubmission("U0LEAD", "V-deny-" + held.Id.ToString("N"), view["private_metadata"]!.GetValue<string>(), "not on a Friday"))));
        var result = await held.Call.WaitAsync(timeout.Token);
        await SlackGatewayBase.WaitAsync(() => Fake.MessagesOf(held.Id).Values.All(m => Shows(m, ":no_entry: *Denied* by lead@example.com: not on a Friday")), "every message shows the denial", timeout.Token);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (clicked, submitted));
        Assert.Equal("1337.42.abcdef", open.Body["trigger_id"]!.GetValue<string>());
        Assert.Equal((SlackInteraction.DenyModalCallback, "modal"), (view["callback_id"]!.GetValue<string>(), view["type"]!.GetValue<string>()));
        Assert.True(result.IsError);
        Assert.Equal($"Approval {held.Id} was denied by lead@example.com: not on a Friday", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        Assert.False(File.Exists(held.Path));
    }

    [Fact]
    public async Task ChatUpdate_Answered429_RetriedOnlyAfterRetryAfter()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var held = await slack.HoldAsync(client, "throttled.txt", "slowly", timeout.Token);
        var message = slack.ChannelMessage(held.Id);
        bool ThisMessage(JsonObject body) => body["channel"]?.GetValue<string>() == message.Channel && body["ts"]?.GetValue<string>() == message.Ts;
        Fake.ThrottleNext("chat.update", ThisMessage, retryAfterSeconds: 2);

        await PostAsync(SlackClicks.Signed(SlackClicks.Form(
            SlackClicks.BlockAction("U0OPS", held.Id, ApprovalCard.ApproveAction, message, Fake.HookUrl("throttled-" + held.Id)))));
        await held.Call.WaitAsync(timeout.Token);
        await SlackGatewayBase.WaitAsync(() => Fake.MessagesOf(held.Id).Values.All(m => Shows(m, ":white_check_mark: *Approved* by ops@example.com. The call ran")), "every message shows the outcome", timeout.Token);

        var updates = Fake.CallsOf("chat.update").Where(c => ThisMessage(c.Body)).ToList();
        Assert.Equal(429, updates[0].Status);
        Assert.Equal(200, updates[1].Status);
        Assert.True(updates[1].At - updates[0].At >= TimeSpan.FromSeconds(1.95), $"retried after {updates[1].At - updates[0].At}");

        // The durable task waited as told instead of backing off and knocking again: one retry each, all delivered.
        while (await slack.CountAsync("SELECT count(*) FROM wf_task WHERE wf_id = $1 AND kind = 'notify' AND state <> 'done'", held.Id) > 0)
        {
            await Task.Delay(50, timeout.Token);
        }

        Assert.Equal(0, await slack.CountAsync("SELECT count(*) FROM wf_task WHERE wf_id = $1 AND kind = 'notify' AND attempt > 2", held.Id));
        Assert.True(await slack.CountAsync("SELECT count(*) FROM wf_task WHERE wf_id = $1 AND kind = 'notify' AND attempt = 2", held.Id) >= 1);

        // While Slack said to wait, no update of this approval's cards was sent at all (the node honours it per method).
        var ours = Fake.MessagesOf(held.Id).Keys.ToHashSet();
        Assert.DoesNotContain(Fake.CallsOf("chat.update"), c => ours.Contains((c.Body["channel"]!.GetValue<string>(), c.Body["ts"]!.GetValue<string>()))
            && c.At > updates[0].At && c.At - updates[0].At < TimeSpan.FromSeconds(1.95));
    }

    [Fact]
    public async Task SslCheck_Unsigned_AnsweredOkAndIgnored()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "slack/interactions")
        {
            Content = new FormUrlEncodedContent([new("ssl_check", "1"), new("token", "legacy")]),
        };

        var (status, _) = await PostAsync(request);

        Assert.Equal(HttpStatusCode.OK, status);
    }

    internal async Task<(HttpStatusCode Status, TimeSpan Elapsed)> PostAsync(HttpRequestMessage request)
    {
        using var http = slack.Gateway.CreateHttpClient();
        var clock = Stopwatch.StartNew();
        using var response = await http.SendAsync(request);
        request.Dispose();
        return (response.StatusCode, clock.Elapsed);
    }

    private List<FakeSlack.ApiCall> ViewsFor(Guid id) =>
        [.. Fake.CallsOf("views.open").Where(c => c.Body["view"]!["private_metadata"]!.GetValue<string>().Contains(id.ToString("D"), StringComparison.Ordinal))];

    private List<JsonObject> Replies(Uri hook) => [.. Fake.Responses.Where(r => hook.AbsolutePath == "/hooks/" + r.Name).Select(r => r.Body)];

    /// <summary>The message's status line (its last block) starts with <paramref name="status"/>.</summary>
    internal static bool Shows(JsonObject message, string status) =>
        message["blocks"]!.AsArray()[^1]!["text"]?["text"]?.GetValue<string>().StartsWith(status, StringComparison.Ordinal) == true;
}
