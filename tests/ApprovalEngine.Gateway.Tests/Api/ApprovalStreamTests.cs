using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalEngine.Gateway.Tests.Api;

/// <summary>
/// Two nodes of one deployment. Node A (the fixture's gateway) takes the agent's calls; node B streams with a re-read
/// interval so long that only NOTIFY from node A can bring it a change in time.
/// </summary>
public sealed class StreamNodes : IAsyncLifetime
{
    public ApiGateway Api { get; } = new() { Stream = o => o.Reread = TimeSpan.FromMinutes(10) };

    public McpGateway B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Api.InitializeAsync();
        B = await Api.StartNodeAsync(Api.Gateway);
    }

    public async Task DisposeAsync()
    {
        await B.DisposeAsync();
        await Api.DisposeAsync();
    }
}

public sealed class ApprovalStreamTests(StreamNodes nodes) : IClassFixture<StreamNodes>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private ApiGateway Api => nodes.Api;

    [Fact]
    public async Task Stream_ChangeMadeOnAnotherNode_ArrivesByNotify()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var ct = timeout.Token;
        await using var stream = await SseStream.OpenAsync(nodes.B, Api.TokenOf(ApiGateway.Ops), ct);
        var first = await stream.NextAsync(ct);

        var id = await Api.RequestAsync("stream-" + Guid.NewGuid().ToString("N")[..6], ct);
        var pending = await stream.UntilAsync("approval", a => Id(a) == id, ct);
        var (approved, _, _) = await Api.PostAsync($"api/approvals/{id}/approve", ApiGateway.Ops);
        var decided = await stream.UntilAsync("approval", a => Id(a) == id && !a["open"]!.GetValue<bool>(), ct);

        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("snapshot", first?.Event);
        Assert.NotNull(first?.Data?["items"]);
        Assert.Equal(("pending", true), (pending["status"]!.GetValue<string>(), pending["youMayDecide"]!.GetValue<bool>()));
        Assert.Equal(200, approved);
        Assert.Contains(decided["status"]!.GetValue<string>(), new[] { "approved", "executing", "completed" });
        Assert.Equal([ApiGateway.Ops], decided["decidedBy"]!.AsArray().Select(a => a!.GetValue<string>()));
    }

    [Fact]
    public async Task Stream_ChangeWithoutAnyNotify_ArrivesByTheReread()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var ct = timeout.Token;
        await using var c = await Api.StartNodeAsync(Api.Gateway, o => (o.Reread, o.KeepAlive) = (TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300)));
        var id = await Api.RequestAsync("reread-" + Guid.NewGuid().ToString("N")[..6], ct);
        await using var stream = await SseStream.OpenAsync(c, Api.TokenOf(ApiGateway.Ops), ct);
        var snapshot = await stream.UntilAsync("snapshot", _ => true, ct);

        // A runtime whose host never started sends no NOTIFY: its change reaches node C only by re-reading.
        await using var silent = new ServiceCollection()
            .AddLogging()
            .AddWorkflowRuntime(Api.Gateway.ConnectionString, o => (o.RunWorker, o.MigrateOnStart) = (false, false))
            .BuildServiceProvider();
        var denied = await silent.GetRequiredService<WorkflowRuntime>().SignalAsync(
            id, new SignalRequest(SignalNames.Deny, "silent-deny", ApiGateway.Ops, JsonSerializer.SerializeToElement(new { reason = "quietly" })), ct);
        var seen = await stream.UntilAsync("approval", a => Id(a) == id && a["status"]!.GetValue<string>() == "denied", ct);
        await stream.UntilCommentAsync(ct);

        Assert.Contains(id, snapshot["items"]!.AsArray().Select(a => Id(a!)));
        Assert.True(denied.Accepted, denied.Message);
        Assert.Equal("quietly", seen["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Stream_ApproverOfAnotherGroup_SeesOnlyTheirApprovals()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var ct = timeout.Token;
        var marker = Guid.NewGuid().ToString("N")[..6];
        var opsBefore = await Api.RequestAsync($"mine-ops-a-{marker}", ct);
        var othersBefore = await Api.RequestAsync($"mine-others-a-{marker}", ct);
        await using var stream = await SseStream.OpenAsync(nodes.B, Api.TokenOf(ApiGateway.Other), ct);
        var snapshot = await stream.UntilAsync("snapshot", _ => true, ct);

        await Api.RequestAsync($"mine-ops-b-{marker}", ct);
        var othersAfter = await Api.RequestAsync($"mine-others-b-{marker}", ct);
        var first = await stream.UntilAsync("approval", _ => true, ct);

        var ids = snapshot["items"]!.AsArray().Select(a => Id(a!)).ToList();
        Assert.Contains(othersBefore, ids);
        Assert.DoesNotContain(opsBefore, ids);
        Assert.All(snapshot["items"]!.AsArray(), a => Assert.Contains(ApiGateway.Other, a!["approvers"]!.AsArray().Select(e => e!.GetValue<string>())));

        // The ops approval changed first; the first event this person gets is theirs.
        Assert.Equal(othersAfter, Id(first));
    }

    [Fact]
    public async Task Stream_ClientGoesAway_TheServerLetsGoOfItsSubscription()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var ct = timeout.Token;
        var hub = nodes.B.Get<WakeupHub>();
        var before = hub.Watchers;

        var stream = await SseStream.OpenAsync(nodes.B, Api.TokenOf(ApiGateway.Auditor), ct);
        await stream.UntilAsync("snapshot", _ => true, ct);
        var open = hub.Watchers;
        await stream.DisposeAsync();
        while (hub.Watchers != before)
        {
            await Task.Delay(50, ct);
        }

        Assert.Equal(before + 1, open);
    }

    [Fact]
    public async Task Stream_HostStops_TheStreamEnds()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var ct = timeout.Token;
        var d = await Api.StartNodeAsync(Api.Gateway);
        await using var stream = await SseStream.OpenAsync(d, Api.TokenOf(ApiGateway.Admin), ct);
        await stream.UntilAsync("snapshot", _ => true, ct);

        // Bounded by the test's timeout: a stream that outlived its host would hang here.
        var stopping = d.DisposeAsync().AsTask();
        var events = await ReadToEndAsync(stream, ct);
        await stopping.WaitAsync(ct);

        Assert.True(stopping.IsCompletedSuccessfully);
        Assert.True(events >= 0);
    }

    [Fact]
    public void Changes_MoreThanTheBufferHolds_ResnapshotInsteadOfGrowing()
    {
        var fits = new ApprovalChanges(capacity: 2);
        var overflows = new ApprovalChanges(capacity: 2);
        var missed = new ApprovalChanges(capacity: 2);
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();

        fits.Offer(a);
        fits.Offer(a);
        overflows.Offer(a);
        overflows.Offer(b);
        overflows.Offer(Guid.NewGuid());
        missed.Offer(a);
        missed.Offer(null);

        Assert.Equal([a], fits.Take()!);
        Assert.Null(overflows.Take());
        Assert.Null(missed.Take());
        Assert.Empty(overflows.Take()!);
    }

    /// <summary>Reads until the server ends the stream; returns how many events came meanwhile.</summary>
    private static async Task<int> ReadToEndAsync(SseStream stream, CancellationToken ct)
    {
        var events = 0;
        try
        {
            while (await stream.NextAsync(ct) is not null)
            {
                events++;
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            // The connection closed under the reader: the stream ended all the same.
        }

        return events;
    }

    private static Guid Id(JsonNode approval) => approval["id"]!.GetValue<Guid>();
}
