// Upstreams speak 2025-11-25, where logging is current; the SDK marks it obsolete (MCP9005) for 2026-07-28.
#pragma warning disable MCP9005

using ApprovalEngine.Gateway.Upstreams;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

public sealed class CatalogTests
{
    [Fact]
    public async Task Catalog_ServerEverythingOverStdio_ListsEveryKindWithAnnotations()
    {
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.EverythingStdio()));

        // Its elicitation tool is registered after initialize (we advertise elicitation) and announced with
        // list_changed: seeing it proves the notification was followed.
        var catalog = await pool.WaitForCatalogAsync(
            c => c.Upstreams["everything"] is { State: UpstreamState.Ready } e && e.Tools.Any(t => t.Name == "trigger-elicitation-request"),
            "everything ready with its elicitation tool");

        var entry = catalog.Upstreams["everything"];
        Assert.Null(entry.LastError);
        Assert.NotNull(entry.Capabilities?.Logging);
        Assert.Contains(entry.Tools, t => t.Name == "echo");
        Assert.NotEmpty(entry.Resources);
        Assert.NotEmpty(entry.ResourceTemplates);
        Assert.NotEmpty(entry.Prompts);
        var getEnv = catalog.Tool("everything", "get-env");
        Assert.True(getEnv.Annotations?.ReadOnlyHint);
        Assert.False(getEnv.Annotations?.DestructiveHint);
        Assert.True(getEnv.Annotations?.IdempotentHint);
        Assert.Equal("Print Environment Tool", getEnv.Title);
    }

    [Fact]
    public async Task Catalog_ServerFilesystem_KeepsReadOnlyAndDestructiveHints()
    {
        var root = Directory.CreateTempSubdirectory("ae-fs-").FullName;
        try
        {
            await using var pool = PoolTestKit.NewPool();
            await pool.ApplyAsync(Peers.Config(Peers.Stdio("fs", [Peers.ServerFilesystem, root])));
            var catalog = await pool.WaitForReadyAsync("fs");

            Assert.True(catalog.Tool("fs", "write_file").Annotations?.DestructiveHint);
            Assert.False(catalog.Tool("fs", "write_file").Annotations?.ReadOnlyHint ?? false);
            Assert.True(catalog.Tool("fs", "read_text_file").Annotations?.ReadOnlyHint);
            Assert.True(catalog.Tool("fs", "list_directory").Annotations?.ReadOnlyHint);

            await File.WriteAllTextAsync(Path.Combine(root, "hello.txt"), "hello from the test");
            var read = await pool.CallAsync("fs", "read_text_file", new { path = Path.Combine(root, "hello.txt") });
            Assert.Contains("hello from the test", read.Text(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Catalog_ServerMemory_ListsItsToolsAndWritesItsFile()
    {
        var directory = Directory.CreateTempSubdirectory("ae-memory-").FullName;
        var file = Path.Combine(directory, "memory.jsonl");
        try
        {
            await using var pool = PoolTestKit.NewPool();
            await pool.ApplyAsync(Peers.Config(Peers.Stdio("memory", [Peers.ServerMemory], new Dictionary<string, string> { ["MEMORY_FILE_PATH"] = file })));
            var catalog = await pool.WaitForReadyAsync("memory");

            Assert.Contains(catalog.Upstreams["memory"].Tools, t => t.Name == "create_entities");
            Assert.Contains(catalog.Upstreams["memory"].Tools, t => t.Name == "read_graph");
            await pool.CallAsync("memory", "create_entities", new { entities = new[] { new { name = "gateway", entityType = "service", observations = new[] { "proxies MCP" } } } });
            Assert.Contains("gateway", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Catalog_ServerEverythingOverStreamableHttp_ListsToolsAndCalls()
    {
        await using var peer = await HttpPeer.StartEverythingAsync();
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.Http("remote", peer.Url)));

        var catalog = await pool.WaitForReadyAsync("remote");

        Assert.True(catalog.Tool("remote", "get-sum").Annotations?.ReadOnlyHint);
        Assert.NotEmpty(catalog.Upstreams["remote"].Prompts);
        var sum = await pool.CallAsync("remote", "get-sum", new { a = 2, b = 40 });
        Assert.Contains("42", sum.Text(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListChanged_ToolAddedByCall_PublishesNewVersionWithTheTool()
    {
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("fixture")));
        var before = await pool.WaitForReadyAsync("fixture");
        Assert.DoesNotContain(before.Upstreams["fixture"].Tools, t => t.Name == "late-tool");
        var changed = new List<UpstreamCatalog>();
        pool.CatalogChanged += changed.Add;

        await pool.CallAsync("fixture", "add-tool", new { name = "late-tool" });
        var after = await pool.WaitForCatalogAsync(c => c.Upstreams["fixture"].Tools.Any(t => t.Name == "late-tool"), "late-tool listed");

        Assert.True(after.Version > before.Version);
        Assert.Contains(changed, c => c.Upstreams["fixture"].Tools.Any(t => t.Name == "late-tool"));
        Assert.True(after.Tool("fixture", "late-tool").Annotations?.ReadOnlyHint);
        Assert.Equal("late-tool ran", (await pool.CallAsync("fixture", "late-tool")).Text());
    }

    [Fact]
    public async Task ListChanged_BurstOfNotifications_RefreshesSerializedAndCoalesced()
    {
        // Listing takes 300 ms, so the notifications of ten concurrent additions arrive while a listing runs.
        await using var pool = PoolTestKit.NewPool();
        await pool.ApplyAsync(Peers.Config(Peers.FixtureStdio("fixture", new Dictionary<string, string> { ["FIXTURE_LIST_DELAY_MS"] = "300" })));
        await pool.WaitForReadyAsync("fixture");

        await Task.WhenAll(Enumerable.Range(0, 10).Select(i => pool.CallAsync("fixture", "add-tool", new { name = $"burst-{i}" })));
        await pool.WaitForCatalogAsync(c => Enumerable.Range(0, 10).All(i => c.Upstreams["fixture"].Tools.Any(t => t.Name == $"burst-{i}")), "all burst tools listed");

        var stats = await QuietListStatsAsync(pool);
        Assert.Equal(1, stats.GetProperty("maxConcurrent").GetInt32());

        // The initial listing, then far fewer than one listing per notification.
        Assert.InRange(stats.GetProperty("total").GetInt32(), 2, 5);
    }

    /// <summary>
    /// The fixture's listing counters once listing has stopped: no listing running at two looks a listing's length
    /// apart. Quiet has no event to await, so this looks at intervals, bounded by the test's patience.
    /// </summary>
    private static async Task<System.Text.Json.JsonElement> QuietListStatsAsync(UpstreamPool pool)
    {
        using var patience = new CancellationTokenSource(PoolTestKit.Patience);
        var previous = -1;
        while (true)
        {
            var stats = System.Text.Json.JsonDocument.Parse((await pool.CallAsync("fixture", "list-stats")).Text()).RootElement;
            var total = stats.GetProperty("total").GetInt32();
            if (stats.GetProperty("running").GetInt32() == 0 && total == previous)
            {
                return stats;
            }

            previous = stats.GetProperty("running").GetInt32() == 0 ? total : -1;
            await Task.Delay(400, patience.Token);
        }
    }
}
