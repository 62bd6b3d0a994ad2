using System.Net;
using System.Text.Json.Nodes;
using ApprovalEngine.Notifiers.Slack;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Tests.Slack;

/// <summary>Socket Mode against the fake Slack's WebSocket server: clicks arrive over the socket, and reconnects lose nothing.</summary>
public sealed class SlackSocketModeTests(SlackSocketGateway slack) : IClassFixture<SlackSocketGateway>
{
    private FakeSlack Fake => slack.Slack;

    [Fact]
    public async Task ClickOverTheWebSocket_AckedByEnvelopeId_ResumesTheHeldCall()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var socket = await OpenSocketAsync(timeout.Token);
        var held = await slack.HoldAsync(client, "socket-approved.txt", "over the socket", timeout.Token);
        var hook = Fake.HookUrl("socket-" + held.Id);
        var envelope = Envelope("env-" + held.Id.ToString("N"), SlackClicks.BlockAction("U0OPS", held.Id, ApprovalCard.ApproveAction, slack.ChannelMessage(held.Id), hook));

        await socket.SendAsync(envelope);
        await SlackGatewayBase.WaitAsync(() => socket.Acked("env-" + held.Id.ToString("N")), "the envelope is acknowledged", timeout.Token);
        var result = await held.Call.WaitAsync(timeout.Token);
        await SlackGatewayBase.WaitAsync(() => Fake.MessagesOf(held.Id).Values.All(m => SlackApprovalTests.Shows(m, ":white_check_mark: *Approved* by ops@example.com. The call ran")), "every message shows the outcome", timeout.Token);
        await SlackGatewayBase.WaitAsync(() => Replies(hook).Count == 1, "the clicker is answered", timeout.Token);

        Assert.NotEqual(true, result.IsError);
        Assert.Equal("over the socket", await File.ReadAllTextAsync(held.Path, timeout.Token));
        Assert.All(Fake.CallsOf("apps.connections.open"), c => Assert.Equal($"Bearer {FakeSlack.AppToken}", c.Authorization));
        Assert.Equal("Recorded: Approved by ops@example.com.", Replies(hook).Single()["text"]!.GetValue<string>());

        // With Socket Mode on, the HTTP endpoint is off: a validly signed request finds nothing there.
        using var http = slack.Gateway.CreateHttpClient();
        using var response = await http.SendAsync(SlackClicks.Signed(SlackClicks.Form(envelope["payload"]!.AsObject())), timeout.Token);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Disconnect_NewConnectionOpensBeforeTheOldCloses_NothingLostNothingTwice()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var old = await OpenSocketAsync(timeout.Token);
        var during = await slack.HoldAsync(client, "during-reconnect.txt", "during", timeout.Token);
        var after = await slack.HoldAsync(client, "after-reconnect.txt", "after", timeout.Token);
        var duringHook = Fake.HookUrl("during-" + during.Id);
        var afterHook = Fake.HookUrl("after-" + after.Id);
        var duringId = "env-during-" + during.Id.ToString("N");
        var duringEnvelope = Envelope(duringId, SlackClicks.BlockAction("U0OPS", during.Id, ApprovalCard.ApproveAction, slack.ChannelMessage(during.Id), duringHook));

        // Slack says the connection will go, and a click still arrives on it while the client reconnects.
        await old.SendAsync(new JsonObject { ["type"] = "disconnect", ["reason"] = "refresh_requested", ["debug_info"] = new JsonObject { ["host"] = "fake" } });
        await old.SendAsync(duringEnvelope);
        await SlackGatewayBase.WaitAsync(() => old.ClosedAt is not null, "the client closes the old connection", timeout.Token);
        var replacement = Fake.Sockets.Single(s => s.Number > old.Number);

        // Slack redelivers what it is unsure about on the new connection; then a new click arrives there.
        duringEnvelope["retry_attempt"] = 1;
        duringEnvelope["retry_reason"] = "timeout";
        await replacement.SendAsync(duringEnvelope);
        await replacement.SendAsync(Envelope("env-after-" + after.Id.ToString("N"), SlackClicks.BlockAction("U0LEAD", after.Id, ApprovalCard.ApproveAction, slack.ChannelMessage(after.Id), afterHook)));
        var results = await Task.WhenAll(during.Call, after.Call).WaitAsync(timeout.Token);
        await SlackGatewayBase.WaitAsync(() => replacement.Acked(duringId) && replacement.Acked("env-after-" + after.Id.ToString("N")), "the new connection acknowledges both", timeout.Token);
        await SlackGatewayBase.WaitAsync(() => Replies(duringHook).Count >= 1 && Replies(afterHook).Count >= 1, "both clickers are answered", timeout.Token);
        await Task.Delay(500, timeout.Token);
        var history = await slack.Gateway.Get<WorkflowRuntime>().GetHistoryAsync(during.Id);

        Assert.True(replacement.OpenedAt < old.ClosedAt, $"the new connection opened at {replacement.OpenedAt:O}, the old closed at {old.ClosedAt:O}");
        Assert.True(old.Acked(duringId), "the old connection acknowledged the click that arrived on it");
        Assert.All(results, r => Assert.NotEqual(true, r.IsError));
        Assert.Equal(("during", "after"), (await File.ReadAllTextAsync(during.Path, timeout.Token), await File.ReadAllTextAsync(after.Path, timeout.Token)));
        Assert.Equal((1, 1), (history.Count(h => h.Type == "vote_recorded"), history.Count(h => h.Type == "approved")));
        Assert.Single(Replies(duringHook));
        Assert.Equal("Recorded: Approved by lead@example.com.", Replies(afterHook).Single()["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task ConnectionDropsWithoutWarning_GatewayReconnects_NextClickArrives()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await slack.ConnectAsync(timeout.Token);
        var dropped = await OpenSocketAsync(timeout.Token);
        var held = await slack.HoldAsync(client, "after-drop.txt", "after a drop", timeout.Token);

        dropped.Abort();
        await SlackGatewayBase.WaitAsync(() => Fake.Sockets.Any(s => s.Number > dropped.Number && s.ClosedAt is null), "the gateway reconnects", timeout.Token);
        var next = Fake.Sockets.Single(s => s.Number > dropped.Number && s.ClosedAt is null);
        await next.SendAsync(Envelope("env-drop-" + held.Id.ToString("N"), SlackClicks.BlockAction("U0OPS", held.Id, ApprovalCard.ApproveAction, slack.ChannelMessage(held.Id), Fake.HookUrl("drop-" + held.Id))));
        var result = await held.Call.WaitAsync(timeout.Token);

        Assert.True(next.Acked("env-drop-" + held.Id.ToString("N")));
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("after a drop", await File.ReadAllTextAsync(held.Path, timeout.Token));
    }

    /// <summary>The connection the gateway has open now (it opens one at start, and after each reconnect).</summary>
    private async Task<FakeSocket> OpenSocketAsync(CancellationToken ct)
    {
        await SlackGatewayBase.WaitAsync(() => Fake.Sockets.Any(s => s.ClosedAt is null), "the gateway connects", ct);
        return Fake.Sockets.Where(s => s.ClosedAt is null).MaxBy(s => s.Number)!;
    }

    private static JsonObject Envelope(string envelopeId, JsonObject payload) => new()
    {
        ["envelope_id"] = envelopeId,
        ["type"] = "interactive",
        ["accepts_response_payload"] = false,
        ["payload"] = payload,
    };

    private List<JsonObject> Replies(Uri hook) => [.. Fake.Responses.Where(r => hook.AbsolutePath == "/hooks/" + r.Name).Select(r => r.Body)];
}
