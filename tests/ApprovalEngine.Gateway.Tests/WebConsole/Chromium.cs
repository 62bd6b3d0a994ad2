using Microsoft.Playwright;

namespace ApprovalEngine.Gateway.Tests.WebConsole;

/// <summary>
/// Debian's Chromium, driven by Playwright's bundled driver (the NuGet package carries its Node and its JS package,
/// so nothing is downloaded). Playwright's own browser downloads are never used.
/// </summary>
public sealed class Chromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly IPlaywright playwright;

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        this.playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    /// <exception cref="InvalidOperationException">Chromium is not installed: the browser tests fail, saying how to install it.</exception>
    public static async Task<Chromium> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException(
                $"The console's browser tests need Chromium at {ExecutablePath}, and it is not installed. Install it with "
                + "`sudo apt-get update && sudo apt-get install -y chromium` (scripts/test does this when it runs as root or with sudo).");
        }

        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                // No sandbox: tests may run as root, where Chromium's sandbox refuses to start. The rest keeps the
                // browser off the network (no updates, no background fetches) and off the GPU.
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"],
                Timeout = 30_000,
            });
            return new Chromium(playwright, browser);
        }
        catch (PlaywrightException)
        {
            playwright.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.CloseAsync();
        playwright.Dispose();
    }
}
