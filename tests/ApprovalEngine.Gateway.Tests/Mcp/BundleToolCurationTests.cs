using System.Net;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Audit;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>
/// <c>bundles.curated.tools</c> lists only <c>memory__read_graph</c> and <c>memory__create_entities</c>: through that
/// bundle the other server-memory tools are neither listed nor callable, while through <c>tools</c> (no list) they are.
/// </summary>
public sealed class BundleToolCurationTests(MemoryGateway memory) : IClassFixture<MemoryGateway>
{
    [Fact]
    public async Task ToolsList_CuratedBundle_OnlyTheListedTools()
    {
        var curated = await ToolNamesAsync("curated");
        var all = await ToolNamesAsync("tools");

        Assert.Equal(["memory__create_entities", "memory__read_graph"], curated.Order(StringComparer.Ordinal));
        Assert.Contains("memory__delete_entities", all);
        Assert.True(all.Count > curated.Count, string.Join(", ", all));
    }

    [Fact]
    public async Task ToolsCall_ListedTool_RunsThroughTheCuratedBundle()
    {
        var session = await memory.StartSessionAsync("curated");

        var answer = await memory.CallAsync(session, "memory__create_entities", MemoryGateway.NewEntity("curated-listed"), bundle: "curated");

        Assert.NotNull(answer["result"]);
        Assert.Contains("curated-listed", MemoryGateway.EntityNames(await memory.ReadGraphAsync()));
    }

    [Fact]
    public async Task ToolsCall_ToolOutsideTheList_RefusedAsUnknownAndAuditedRejected()
    {
        var session = await memory.StartSessionAsync("curated");
        await memory.CallAsync(session, "memory__create_entities", MemoryGateway.NewEntity("curated-keep"), bundle: "curated");
        var rejectedBefore = await memory.AuditCountAsync(ToolCallOutcome.Rejected, "memory__delete_entities");
        var deleteKeep = new JsonObject { ["entityNames"] = new JsonArray("curated-keep") };

        using var response = await memory.Client.SendAsync(RawMcp.Post(
            memory.Gateway.Url("curated"), memory.AlphaKey, memory.ToolCall("memory__delete_entities", deleteKeep), session: session, protocolVersion: "2025-11-25"));
        var answer = await RawMcp.MessageAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(-32602, RawMcp.ErrorCode(answer));
        Assert.Contains("Unknown tool 'memory__delete_entities'", RawMcp.ErrorMessage(answer), StringComparison.Ordinal);
        Assert.Equal(rejectedBefore + 1, await memory.AuditCountAsync(ToolCallOutcome.Rejected, "memory__delete_entities"));
        Assert.Contains("curated-keep", MemoryGateway.EntityNames(await memory.ReadGraphAsync()));
    }

    private async Task<IReadOnlyList<string>> ToolNamesAsync(string bundle)
    {
        var session = await memory.StartSessionAsync(bundle);
        using var response = await memory.Client.SendAsync(RawMcp.Post(
            memory.Gateway.Url(bundle), memory.AlphaKey, RawMcp.Request(2, "tools/list"), session: session, protocolVersion: "2025-11-25"));
        var answer = await RawMcp.MessageAsync(response);
        return [.. answer["result"]!["tools"]!.AsArray().Select(t => t!["name"]!.GetValue<string>())];
    }
}
