using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ApprovalEngine.Gateway.Tests.WebConsole;

/// <summary>The inbox's live stream: parsing whatever way the bytes arrive, reconnecting, and a token that stops working.</summary>
public sealed partial class ConsoleBrowserTests
{
    [Fact]
    public async Task EventStreamParser_ChunksSplitAnywhere_SameEvents()
    {
        await using var page = await fixture.OpenAsync(output);
        await Expect(page.Heading("Sign in")).ToBeVisibleAsync();

        // Every chunk size from 1 byte to the whole text, so each line ending and field is split somewhere.
        var results = await page.Page.EvaluateAsync<string[]>("""
            async () => {
              const { EventStreamParser } = await import('/console/js/stream.js');
              const text = ': keepalive\r\n\r\nevent: snapshot\r\ndata: {"items":[]}\r\n\r\n'
                + 'event: approval\ndata: {"id":"a",\ndata:"open":true}\n\n: keepalive\n\ndata: x\n\n';
              const results = [];
              for (let size = 1; size <= text.length; size++) {
                const parser = new EventStreamParser();
                const events = [];
                for (let i = 0; i < text.length; i += size) events.push(...parser.push(text.slice(i, i + size)));
                results.push(JSON.stringify(events));
              }
              return results;
            }
            """);

        (string Event, string Data)[] expected = [("snapshot", """{"items":[]}"""), ("approval", "{\"id\":\"a\",\n\"open\":true}"), ("message", "x")];
        Assert.Equal(128, results.Length);
        Assert.All(results, result => Assert.Equal(
            expected,
            JsonSerializer.Deserialize<JsonElement[]>(result)!.Select(e => (e.GetProperty("event").GetString()!, e.GetProperty("data").GetString()!))));
        await page.AssertCleanAsync();
    }

    [Fact]
    public async Task Inbox_StreamDropped_ReconnectsAndShowsTheNextHeldCall()
    {
        using var timeout = new CancellationTokenSource(CallTimeout);
        var target = Path.Combine(fixture.Sandbox, "reconnected.txt");
        await using var approver = await fixture.OpenAsync(output);
        var streams = 0;
        await approver.Page.RouteAsync("**/api/approvals/stream", async route =>
        {
            // The first two connections fail as a dropped network would; later ones reach the gateway.
            if (Interlocked.Increment(ref streams) <= 2)
            {
                await route.AbortAsync("connectionreset");
            }
            else
            {
                await route.ContinueAsync();
            }
        });
        await approver.SignInAsync(fixture.ApproverToken);
        await Expect(approver.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Live" })).ToBeVisibleAsync();
        await using var agent = await fixture.ConnectAgentAsync(timeout.Token);

        var call = agent.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = target, ["content"] = "after a reconnect" }, cancellationToken: timeout.Token).AsTask();
        await approver.Row("reconnected.txt").GetByRole(AriaRole.Link).ClickAsync();
        await approver.Button("Approve").ClickAsync();
        var result = await call.WaitAsync(timeout.Token);

        Assert.Equal(3, Volatile.Read(ref streams));
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("after a reconnect", await File.ReadAllTextAsync(target, timeout.Token));
        await approver.AssertCleanAsync();
    }

    [Fact]
    public async Task Inbox_TokenNoLongerAccepted_SignsOutAndForgetsIt()
    {
        await using var approver = await fixture.OpenAsync(output);
        await approver.SignInAsync(fixture.ApproverToken);
        await Expect(approver.Heading("Inbox")).ToBeVisibleAsync();

        // As after the token is removed from the configuration: the API answers 401 from now on.
        await approver.Page.RouteAsync("**/api/**", route => route.FulfillAsync(new()
        {
            Status = 401,
            ContentType = "application/problem+json",
            Body = """{"title":"Unauthorized","status":401,"detail":"The API token is not valid."}""",
        }));
        await approver.Link("Status").ClickAsync();

        await Expect(approver.Heading("Sign in")).ToBeVisibleAsync();
        await Expect(approver.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "no longer accepted" })).ToBeVisibleAsync();
        Assert.Equal(0, await approver.Page.EvaluateAsync<int>("() => sessionStorage.length"));
        await Expect(approver.Page.GetByRole(AriaRole.Navigation, new() { Name = "Main" })).ToBeHiddenAsync();
        await approver.AssertCleanAsync();
    }
}
