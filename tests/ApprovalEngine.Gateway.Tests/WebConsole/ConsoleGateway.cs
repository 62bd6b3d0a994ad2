using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Mcp;
using Microsoft.Playwright;
using ModelContextProtocol.Client;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.WebConsole;

/// <summary>
/// A real gateway in front of the real server-filesystem, whose writes need an approval from the ops group, with
/// three people (an approver, an auditor, an approver of no group) and Chromium to drive the console.
/// </summary>
public sealed class ConsoleGateway : IAsyncLifetime
{
    public McpGateway Gateway { get; private set; } = null!;

    public Chromium Chromium { get; private set; } = null!;

    public string Sandbox { get; private set; } = null!;

    /// <summary>ops@example.com: approver, member of the ops group.</summary>
    public string ApproverToken { get; } = UserTokens.Generate();

    /// <summary>audit@example.com: auditor only.</summary>
    public string AuditorToken { get; } = UserTokens.Generate();

    /// <summary>outsider@example.com: approver, but of no group.</summary>
    public string OutsiderToken { get; } = UserTokens.Generate();

    public async Task InitializeAsync()
    {
        // The browser first: without Chromium every test fails at once with the message saying how to install it.
        Chromium = await Chromium.LaunchAsync();
        var directory = Path.Combine(Path.GetTempPath(), "ae-console-" + Guid.NewGuid().ToString("N")[..12]);
        Sandbox = Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(Sandbox);
        Gateway = await McpGateway.StartAsync($$"""
            {{GatewayYaml.FilesAgent(Sandbox)}}
            approvers:
              ops:
                members: [ops@example.com]
            users:
              ops@example.com: {roles: [approver], tokens: ["{{UserTokens.Hash(ApproverToken)}}"]}
              audit@example.com: {roles: [auditor], tokens: ["{{UserTokens.Hash(AuditorToken)}}"]}
              outsider@example.com: {roles: [approver], tokens: ["{{UserTokens.Hash(OutsiderToken)}}"]}
            policy:
              default: read-only
              approvers: [ops]
              approval: {timeout: 1h, hold: 60s}
              rules:
                - name: writes-need-approval
                  action: approve
                  reason: files change only with a person's consent
                  match: {tools: [fs__write_file]}
                  approval: {allowEdits: true}
            """, directory: directory);
    }

    /// <summary>The agent's MCP client (the C# SDK), once the filesystem's tools are listed.</summary>
    public Task<McpClient> ConnectAgentAsync(CancellationToken cancellationToken) =>
        AgentClients.ConnectAsync(Gateway.Url("files"), Gateway.KeyOf("agent"), "fs__write_file", cancellationToken);

    /// <summary>
    /// A fresh browser context (its own sessionStorage) on the console, recording the page's errors; the browser's
    /// console goes to <paramref name="output"/>, which xunit shows when the test fails.
    /// </summary>
    public async Task<ConsolePage> OpenAsync(ITestOutputHelper output, string path = "/console/")
    {
        var context = await Chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Gateway.BaseUrl });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        var console = new ConsolePage(context, page, output);
        await page.GotoAsync(path);
        return console;
    }

    public async Task DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        if (Chromium is not null)
        {
            await Chromium.DisposeAsync();
        }
    }
}

/// <summary>One person's browser tab on the console. Uncaught script errors and CSP violations are collected.</summary>
public sealed partial class ConsolePage : IAsyncDisposable
{
    private readonly IBrowserContext context;
    private readonly ConcurrentQueue<string> errors = new();

    public ConsolePage(IBrowserContext context, IPage page, ITestOutputHelper output)
    {
        this.context = context;
        Page = page;
        page.PageError += (_, error) =>
        {
            errors.Enqueue($"uncaught: {error}");
            Log(output, $"[browser] uncaught: {error}");
        };
        page.Console += (_, message) =>
        {
            Log(output, $"[browser] {message.Type}: {message.Text}");
            if (message.Type == "error" && message.Text.Contains("Content Security Policy", StringComparison.Ordinal))
            {
                errors.Enqueue($"CSP: {message.Text}");
            }
        };
    }

    public IPage Page { get; }

    public IReadOnlyCollection<string> Errors => errors;

    /// <summary>No script error or CSP violation so far, and no value rendered as "[object …]", "undefined" or a bare "null".</summary>
    public async Task AssertCleanAsync()
    {
        var text = await Page.EvaluateAsync<string>("() => document.body.innerText");

        Assert.Empty(LeakPattern().Matches(text).Select(m => m.Value));
        Assert.Empty(errors);
    }

    public ILocator Heading(string name) => Page.GetByRole(AriaRole.Heading, new() { Name = name, Level = 1 });

    public ILocator Button(string name) => Page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true });

    public ILocator Link(string name) => Page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true });

    /// <summary>The table row whose text contains <paramref name="text"/>.</summary>
    public ILocator Row(string text) => Page.GetByRole(AriaRole.Row).Filter(new() { HasText = text });

    /// <summary>Signs in with the mouse: the token pasted into the labelled field, then "Sign in".</summary>
    public async Task SignInAsync(string token)
    {
        await Page.GetByLabel("API token").FillAsync(token);
        await Button("Sign in").ClickAsync();
        await Assertions.Expect(Page.GetByRole(AriaRole.Navigation, new() { Name = "Main" })).ToBeVisibleAsync();
    }

    /// <summary>Presses Tab (or Shift+Tab) until <paramref name="target"/> has the focus; fails after <paramref name="maxPresses"/>.</summary>
    public async Task TabToAsync(ILocator target, bool backwards = false, int maxPresses = 40)
    {
        for (var i = 0; i < maxPresses; i++)
        {
            if (await target.EvaluateAsync<bool>("element => element === document.activeElement"))
            {
                return;
            }

            await Page.Keyboard.PressAsync(backwards ? "Shift+Tab" : "Tab");
        }

        var focused = await Page.EvaluateAsync<string>("() => document.activeElement?.outerHTML ?? 'nothing'");
        Assert.Fail($"{maxPresses} presses of {(backwards ? "Shift+Tab" : "Tab")} did not reach {target}; the focus is on {focused}.");
    }

    public async ValueTask DisposeAsync() => await context.CloseAsync();

    private static void Log(ITestOutputHelper output, string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The browser reported after the test ended: nobody is left to read it.
        }
    }

    [GeneratedRegex(@"\[object \w+\]|\bundefined\b|\bNaN\b|^\s*null\s*$", RegexOptions.Multiline)]
    private static partial Regex LeakPattern();
}
