using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using ApprovalEngine.Gateway.WebConsole;
using ApprovalEngine.Testing;
using Microsoft.AspNetCore.Mvc.Testing;

namespace ApprovalEngine.Gateway.Tests.WebConsole;

/// <summary>The real gateway host, in memory, serving the console (no API calls: the page's files only).</summary>
public sealed class ConsoleHost : IAsyncLifetime
{
    private GatewayFactory factory = null!;

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        factory = GatewayFactory.ForDatabase(await TestPostgres.CreateDatabaseAsync("gw_console", migrate: false));
        Client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await factory.DisposeAsync();
    }
}

public sealed partial class ConsoleEndpointTests(ConsoleHost host) : IClassFixture<ConsoleHost>
{
    private static readonly ConsoleFiles Files = ConsoleFiles.Load(typeof(ConsoleEndpoints).Assembly);

    [Fact]
    public async Task Get_ConsoleRoot_ServesTheShellWithStrictHeaders()
    {
        using var response = await host.Client.GetAsync("/console/");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        Assert.Contains("<main id=\"main\"", body, StringComparison.Ordinal);
        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.NotNull(response.Headers.ETag);
        Assert.False(response.Headers.ETag!.IsWeak);
        Assert.True(response.Headers.CacheControl?.NoCache);
    }

    [Theory]
    [InlineData("/console/approvals/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")]
    [InlineData("/console/audit")]
    [InlineData("/console/status")]
    public async Task Get_ViewPath_ServesTheShellSoTheLinkOpensThatView(string path)
    {
        using var shell = await host.Client.GetAsync("/console/");
        using var response = await host.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await shell.Content.ReadAsStringAsync(), await response.Content.ReadAsStringAsync());
        Assert.Contains("default-src 'self'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("js/app.js", "text/javascript")]
    [InlineData("js/views/approval.js", "text/javascript")]
    [InlineData("console.css", "text/css")]
    [InlineData("icon.svg", "image/svg+xml")]
    public async Task Get_ConsoleFile_ServedWithItsContentTypeAndNosniff(string path, string mediaType)
    {
        using var response = await host.Client.GetAsync("/console/" + path);
        var bytes = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.True(Files.TryGet(path, out var file));
        Assert.Equal(file.Content.ToArray(), bytes);
    }

    [Fact]
    public async Task Get_WithTheCurrentETag_Answers304WithoutABody()
    {
        using var first = await host.Client.GetAsync("/console/js/app.js");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/console/js/app.js");
        request.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        using var again = await host.Client.SendAsync(request);
        using var stale = new HttpRequestMessage(HttpMethod.Get, "/console/js/app.js");
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"0123456789abcdef\""));
        using var changed = await host.Client.SendAsync(stale);

        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Empty(await again.Content.ReadAsByteArrayAsync());
        Assert.Equal(first.Headers.ETag, again.Headers.ETag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
    }

    [Fact]
    public async Task Head_ConsoleFile_HeadersWithoutABody()
    {
        using var response = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/console/console.css"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(Files.TryGet("console.css", out var file));
        Assert.Equal(file.Content.Length, response.Content.Headers.ContentLength);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("/console/js/missing.js")]
    [InlineData("/console/approvals/x/.env")]
    [InlineData("/console/index.html.bak")]
    public async Task Get_NoSuchFile_Answers404(string path)
    {
        using var response = await host.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/console")]
    public async Task Get_RootOrBarePrefix_RedirectsToTheConsole(string path)
    {
        using var response = await host.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/console/", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task OpenApiDocument_ConsoleAndRedirect_AreNotListed()
    {
        using var response = await host.Client.GetAsync("/openapi/v1.json");
        using var document = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var paths = document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("/api/me", paths);
        Assert.DoesNotContain(paths, p => p == "/" || p.StartsWith("/console", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Shell_EveryReferencedFileAndModuleImport_IsServed()
    {
        var pending = new Queue<Uri>([new Uri("http://gateway/console/")]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var failures = new List<string>();
        while (pending.TryDequeue(out var url))
        {
            if (!seen.Add(url.AbsolutePath))
            {
                continue;
            }

            using var response = await host.Client.GetAsync(url.PathAndQuery);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                failures.Add($"{url.AbsolutePath}: {(int)response.StatusCode}");
                continue;
            }

            var text = await response.Content.ReadAsStringAsync();
            // index.html resolves against its <base href="/console/">; modules against their own URL.
            var baseUrl = url.AbsolutePath == "/console/" ? new Uri("http://gateway/console/") : url;
            var references = url.AbsolutePath.EndsWith(".js", StringComparison.Ordinal) ? ImportPattern().Matches(text) : AssetPattern().Matches(text);
            foreach (Match match in references)
            {
                pending.Enqueue(new Uri(baseUrl, match.Groups["path"].Value));
            }
        }

        Assert.Empty(failures);
        Assert.Contains("/console/js/app.js", seen);
        Assert.Contains("/console/js/views/approval.js", seen);
        Assert.Equal(Files.Paths.Select(p => "/console/" + (p == ConsoleFiles.IndexPath ? "" : p)).Order(), seen.Order());
    }

    [Fact]
    public void ConsoleFiles_NoInlineScriptNoExternalResourceNoMarkupFromStrings()
    {
        var problems = new List<string>();
        foreach (var path in Files.Paths)
        {
            Assert.True(Files.TryGet(path, out var file));
            var text = System.Text.Encoding.UTF8.GetString(file.Content.Span);
            // The SVG namespace is a name, not a resource the browser fetches.
            if (ExternalUrlPattern().Match(text.Replace("xmlns=\"http://www.w3.org/2000/svg\"", "", StringComparison.Ordinal)) is { Success: true } url)
            {
                problems.Add($"{path}: external URL {url.Value}");
            }

            if (path.EndsWith(".js", StringComparison.Ordinal) && UnsafeDomPattern().Match(text) is { Success: true } unsafeDom)
            {
                problems.Add($"{path}: {unsafeDom.Value}");
            }

            if (path.EndsWith(".html", StringComparison.Ordinal))
            {
                problems.AddRange(InlineScriptPattern().Matches(text).Select(m => $"{path}: inline script {m.Value}"));
                problems.AddRange(InlineAttributePattern().Matches(text).Select(m => $"{path}: inline attribute {m.Value}"));
            }
        }

        Assert.Empty(problems);
    }

    [Fact]
    public void ConsoleFiles_EveryFileOfTheSourceFolder_IsEmbeddedUnchanged()
    {
        var folder = Path.Combine(RepositoryRoot(), "src", "Gateway", "WebConsole", "assets");
        var onDisk = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f).Replace('\\', '/'), File.ReadAllBytes, StringComparer.Ordinal);

        Assert.Equal(onDisk.Keys.Order(), Files.Paths.Order());
        Assert.All(onDisk, pair => Assert.Equal(pair.Value, Files.TryGet(pair.Key, out var file) ? file.Content.ToArray() : null));
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ApprovalEngine.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No ApprovalEngine.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex("""<(?:script|link)\b[^>]*\b(?:src|href)="(?<path>[^"]+)(?=")""")]
    private static partial Regex AssetPattern();

    [GeneratedRegex("""(?:import|from)\s*['"](?<path>\.{1,2}/[^'"]+)['"]""")]
    private static partial Regex ImportPattern();

    [GeneratedRegex("""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalUrlPattern();

    [GeneratedRegex("""\b(?:innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\s*\(|new\s+Function\s*\()""")]
    private static partial Regex UnsafeDomPattern();

    [GeneratedRegex("""<script(?![^>]*\bsrc=)[^>]*>""", RegexOptions.IgnoreCase)]
    private static partial Regex InlineScriptPattern();

    [GeneratedRegex("""\s(?:style|on[a-z]+)\s*=""", RegexOptions.IgnoreCase)]
    private static partial Regex InlineAttributePattern();
}
