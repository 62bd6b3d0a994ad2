using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Testing;
using Npgsql;
using static ApprovalEngine.Gateway.Tests.Audit.AuditFixtures;

namespace ApprovalEngine.Gateway.Tests.Audit;

public sealed class ToolCallAuditQueriesTests : IAsyncLifetime
{
    private NpgsqlDataSource dataSource = null!;
    private ToolCallAuditQueries queries = null!;
    private List<ToolCallRecord> written = [];

    public async Task InitializeAsync()
    {
        dataSource = NpgsqlDataSource.Create(await TestPostgres.CreateDatabaseAsync("audit_query"));
        queries = new ToolCallAuditQueries(dataSource);

        // 40 calls over 3 bundles, 2 agents, 4 tools; every fourth pair shares a start time so the id breaks ties.
        written = Enumerable.Range(0, 40).Select(i => Record(
            i,
            agent: i % 2 == 0 ? "agent-even" : "agent-odd",
            bundle: $"bundle-{i % 3}",
            upstream: i % 4 < 2 ? "filesystem" : "github",
            tool: $"tool-{i % 4}",
            decision: i % 5 == 0 ? ToolCallDecision.Deny : ToolCallDecision.Allow,
            outcome: i % 5 == 0 ? ToolCallOutcome.Denied : i % 7 == 0 ? ToolCallOutcome.ToolError : ToolCallOutcome.Ok,
            startedAt: Epoch.AddMinutes(i / 2))).ToList();
        await using var writer = Writer(dataSource);
        await Task.WhenAll(written.Select(r => writer.AppendAsync(r)));
    }

    public async Task DisposeAsync() => await dataSource.DisposeAsync();

    [Fact]
    public async Task QueryAsync_ByBundle_OnlyThatBundleNewestFirst()
    {
        var page = await queries.QueryAsync(new ToolCallAuditFilter { Bundle = "bundle-1" });

        Assert.Equal(written.Count(r => r.Bundle == "bundle-1"), page.Items.Count);
        Assert.All(page.Items, e => Assert.Equal("bundle-1", e.Record.Bundle));
        Assert.Equal(page.Items.Select(e => e.Record.StartedAt).OrderDescending(), page.Items.Select(e => e.Record.StartedAt));
        Assert.Null(page.NextCursor);
    }

    [Fact]
    public async Task QueryAsync_EveryFilterTogether_MatchesAllOfThem()
    {
        var filter = new ToolCallAuditFilter
        {
            AgentId = "agent-even",
            Bundle = "bundle-0",
            Upstream = "filesystem",
            Tool = "tool-0",
            ToolName = "filesystem__tool-0",
            Decision = ToolCallDecision.Deny,
            Outcome = ToolCallOutcome.Denied,
            From = Epoch,
            To = Epoch.AddHours(1),
        };
        var expected = written.Where(r => r.AgentId == "agent-even" && r.Bundle == "bundle-0" && r.Tool == "tool-0" && r.Decision == ToolCallDecision.Deny)
            .Select(r => r.RequestId).Order().ToList();

        var page = await queries.QueryAsync(filter);

        Assert.NotEmpty(expected);
        Assert.Equal(expected, page.Items.Select(e => e.Record.RequestId).Order());
    }

    [Theory]
    [InlineData("agent", 20)]
    [InlineData("outcome", 4)]
    [InlineData("range", 10)]
    public async Task QueryAsync_SingleFilter_ExactMatches(string which, int expected)
    {
        var filter = which switch
        {
            "agent" => new ToolCallAuditFilter { AgentId = "agent-odd" },
            "outcome" => new ToolCallAuditFilter { Outcome = ToolCallOutcome.ToolError },
            _ => new ToolCallAuditFilter { From = Epoch.AddMinutes(5), To = Epoch.AddMinutes(10) },
        };

        var page = await queries.QueryAsync(filter);

        Assert.Equal(expected, page.Items.Count);
    }

    [Fact]
    public async Task QueryAsync_PagedByThree_EveryRecordOnceInOrder()
    {
        var all = (await queries.QueryAsync(new ToolCallAuditFilter { Limit = 1000 })).Items;
        var paged = new List<ToolCallAuditEntry>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await queries.QueryAsync(new ToolCallAuditFilter { Limit = 3, Cursor = cursor });
            Assert.True(page.Items.Count is > 0 and <= 3);
            paged.AddRange(page.Items);
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(40, all.Count);
        Assert.Equal(14, pages);
        Assert.Equal(all.Select(e => e.Id), paged.Select(e => e.Id));
        Assert.Equal(40, paged.Select(e => e.Id).Distinct().Count());
    }

    [Fact]
    public async Task QueryAsync_PagedWithFilter_CursorKeepsTheFilter()
    {
        var first = await queries.QueryAsync(new ToolCallAuditFilter { Bundle = "bundle-2", Limit = 5 });
        var second = await queries.QueryAsync(new ToolCallAuditFilter { Bundle = "bundle-2", Limit = 5, Cursor = first.NextCursor });

        Assert.NotNull(first.NextCursor);
        Assert.All(first.Items.Concat(second.Items), e => Assert.Equal("bundle-2", e.Record.Bundle));
        Assert.True(first.Items[^1].Record.StartedAt >= second.Items[0].Record.StartedAt);
        Assert.Empty(first.Items.Select(e => e.Id).Intersect(second.Items.Select(e => e.Id)));
    }

    [Theory]
    [InlineData("not-a-cursor!")]
    [InlineData("AAAA")]
    public async Task QueryAsync_ForeignCursor_ArgumentException(string cursor)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => queries.QueryAsync(new ToolCallAuditFilter { Cursor = cursor }));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public async Task QueryAsync_LimitOutOfRange_ArgumentOutOfRange(int limit)
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => queries.QueryAsync(new ToolCallAuditFilter { Limit = limit }));
    }

    [Fact]
    public async Task QueryAsync_Entry_CarriesTheWholeRecordAndItsPlace()
    {
        var page = await queries.QueryAsync(new ToolCallAuditFilter { Limit = 1000 });

        Assert.Equal(written.OrderBy(r => r.RequestId), page.Items.Select(e => e.Record).OrderBy(r => r.RequestId));
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), page.Items.Select(e => e.Seq).Order());
    }
}
