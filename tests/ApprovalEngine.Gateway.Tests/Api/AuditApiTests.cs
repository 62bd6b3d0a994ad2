using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Testing;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Api;

/// <summary>The audit endpoints against a real gateway, over tool calls, approvals and refusals the test made for real.</summary>
public sealed class AuditApiTests(ApiGateway api) : IClassFixture<ApiGateway>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("GET", "api/audit/tool-calls")]
    [InlineData("GET", "api/audit/workflows")]
    [InlineData("GET", "api/audit/export")]
    [InlineData("POST", "api/audit/verify")]
    public async Task AuditEndpoint_Approver_403MissingRoleRecorded(string method, string path)
    {
        var (status, body, _) = await api.SendAsync(new HttpMethod(method), path, ApiGateway.Ops);

        Assert.Equal(403, status);
        Assert.Equal("This needs one of the roles auditor, admin; ops@example.com has: approver.", body!["detail"]!.GetValue<string>());
        Assert.Contains($"missing_role|403|{method}|{ApiGateway.Ops}|-", await api.RefusalsAsync("/" + path));
    }

    [Fact]
    public async Task ToolCalls_Auditor_FilteredByApprovalAndPagedNewestFirst()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var marker = Guid.NewGuid().ToString("N")[..6];
        var id = await api.RequestAsync("calls-" + marker, timeout.Token);
        await api.RequestAsync("calls-" + marker, timeout.Token);
        await api.RequestAsync("calls-" + marker, timeout.Token);

        var (status, body, text) = await api.GetAsync($"api/audit/tool-calls?approvalId={id}&toolName=fs__write_file&limit=2", ApiGateway.Auditor);
        var next = await api.GetAsync($"api/audit/tool-calls?approvalId={id}&toolName=fs__write_file&limit=2&cursor={Uri.EscapeDataString(body!["nextCursor"]!.GetValue<string>())}", ApiGateway.Admin);

        Assert.True(status == 200, text);
        var items = body["items"]!.AsArray().Concat(next.Body!["items"]!.AsArray()).ToList();
        Assert.Equal(3, items.Count);
        Assert.Null(next.Body["nextCursor"]);
        Assert.Equal(3, items.Select(i => i!["id"]!.GetValue<Guid>()).Distinct().Count());
        var times = items.Select(i => i!["at"]!.GetValue<DateTimeOffset>()).ToList();
        Assert.Equal(times.OrderDescending(), times);
        var first = items[0]!;
        Assert.Equal((id, "approve", "default", "pending"), (first["approvalId"]!.GetValue<Guid>(), first["decision"]!.GetValue<string>(), first["rule"]!.GetValue<string>(), first["outcome"]!.GetValue<string>()));
        Assert.Equal(("agent", "files", "fs", "write_file"), (first["agentId"]!.GetValue<string>(), first["bundle"]!.GetValue<string>(), first["upstream"]!.GetValue<string>(), first["tool"]!.GetValue<string>()));
        Assert.Contains("calls-" + marker, first["arguments"]!["path"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(first["completedAt"]!.GetValue<DateTimeOffset>() >= first["at"]!.GetValue<DateTimeOffset>());
    }

    [Fact]
    public async Task ToolCalls_BadParameters_400NamingEachOne()
    {
        var (status, body, _) = await api.GetAsync("api/audit/tool-calls?from=yesterday&limit=5000&approvalId=42&agent=", ApiGateway.Auditor);
        var cursor = await api.GetAsync("api/audit/tool-calls?cursor=AAAA", ApiGateway.Auditor);
        var range = await api.GetAsync("api/audit/tool-calls?from=2025-02-01&to=2025-01-01", ApiGateway.Auditor);

        Assert.Equal(400, status);
        Assert.Equal(["agent", "approvalId", "from", "limit"], body!["errors"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal((400, "cursor"), (cursor.Status, Assert.Single(cursor.Body!["errors"]!.AsObject()).Key));
        Assert.Equal((400, "to"), (range.Status, Assert.Single(range.Body!["errors"]!.AsObject()).Key));
    }

    [Fact]
    public async Task Workflows_Auditor_FilteredByApproverStatusAndTime()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var marker = Guid.NewGuid().ToString("N")[..6];
        var before = DateTimeOffset.UtcNow;
        var forOthers = await api.RequestAsync("wf-others-" + marker, timeout.Token);
        var forOps = await api.RequestAsync("wf-ops-" + marker, timeout.Token);
        await api.PostAsync($"api/approvals/{forOps}/deny", ApiGateway.Ops);
        var from = Uri.EscapeDataString(before.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffK", CultureInfo.InvariantCulture));

        var byApprover = await api.GetAsync($"api/audit/workflows?approver=OTHER@example.com&from={from}", ApiGateway.Auditor);
        var denied = await api.GetAsync($"api/audit/workflows?status=denied&from={from}", ApiGateway.Admin);
        var all = await api.GetAsync($"api/audit/workflows?from={from}&agent=agent&bundle=files&tool=write_file", ApiGateway.Auditor);
        var unknown = await api.GetAsync("api/audit/workflows?status=approvedish", ApiGateway.Auditor);

        Assert.Equal([forOthers], Ids(byApprover.Body!));
        Assert.Equal([forOps], Ids(denied.Body!));
        Assert.Equal([forOps, forOthers], Ids(all.Body!));
        Assert.Equal(400, unknown.Status);
        Assert.Equal("status", Assert.Single(unknown.Body!["errors"]!.AsObject()).Key);
    }

    [Fact]
    public async Task Export_Auditor_EveryKindAsSelfDescribingLinesInTimeOrder()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var from = DateTimeOffset.UtcNow.AddSeconds(-1);
        var id = await api.RequestAsync("export-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);
        await api.PostAsync($"api/approvals/{id}/deny", ApiGateway.Ops, """{"reason": "exported"}""");
        await api.GetAsync($"api/approvals/{id}", ApiGateway.Other);
        await InsertChannelRefusalsAsync(id);
        var to = DateTimeOffset.UtcNow.AddSeconds(1);

        var lines = await ExportAsync($"from={Iso(from)}&to={Iso(to)}");
        var onlyRefusals = await ExportAsync($"from={Iso(from)}&to={Iso(to)}&kinds=refusal");

        var times = lines.Select(l => l["at"]!.GetValue<DateTimeOffset>()).ToList();
        Assert.Equal(times.Order(), times);
        Assert.All(lines, l => Assert.NotNull(l["event_id"]));
        var call = Assert.Single(lines, l => l["event_type"]!.GetValue<string>() == "tool_call" && l["approval_id"]?.GetValue<Guid>() == id);
        Assert.Equal(("agent", "fs__write_file", "approve", "pending"),
            (call["agent_id"]!.GetValue<string>(), call["tool_name"]!.GetValue<string>(), call["decision"]!.GetValue<string>(), call["outcome"]!.GetValue<string>()));
        Assert.Matches("^[0-9a-f]{64}$", call["hash"]!.GetValue<string>());
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(call["arguments"]!.ToJsonString()).RootElement.ValueKind);
        var events = lines.Where(l => l["event_type"]!.GetValue<string>() == "workflow_event" && l["approval_id"]!.GetValue<Guid>() == id).ToList();
        Assert.Equal(Enumerable.Range(1, events.Count), events.Select(e => e["seq"]!.GetValue<int>()));
        Assert.Contains(events, e => e["actor"]!.GetValue<string>() == ApiGateway.Ops && e["body"]!["reason"]?.GetValue<string>() == "exported");
        Assert.All(events, e => Assert.Equal($"{id}:{e["seq"]}", e["event_id"]!.GetValue<string>()));
        var refusals = lines.Where(l => l["event_type"]!.GetValue<string>() == "refusal").ToList();
        Assert.Contains(refusals, r => r["channel"]!.GetValue<string>() == "api" && r["email"]!.GetValue<string>() == ApiGateway.Other
            && r["reason"]!.GetValue<string>() == "not_permitted" && r["path"]!.GetValue<string>() == $"/api/approvals/{id}");
        Assert.Contains(refusals, r => r["channel"]!.GetValue<string>() == "slack" && r["approval_id"]!.GetValue<Guid>() == id && r["user_id"]!.GetValue<string>() == "U1");
        Assert.Contains(refusals, r => r["channel"]!.GetValue<string>() == "teams" && r["approval_id"]!.GetValue<Guid>() == id && r["aad_object_id"]!.GetValue<string>() == "aad-1");
        Assert.All(refusals, r => Assert.Equal(
            ["event_type", "event_id", "at", "channel", "reason", "email", "approval_id", "detail", "status", "method", "path", "remote_address", "required_roles", "action", "user_id", "team_id", "aad_object_id"],
            r.AsObject().Select(p => p.Key)));
        // The Slack and Teams rows were inserted at the same microsecond, and such events come in no particular order.
        Assert.Equal(refusals.Select(r => r.ToJsonString()).Order(StringComparer.Ordinal), onlyRefusals.Select(r => r.ToJsonString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Export_BadKinds_400()
    {
        var (status, body, _) = await api.GetAsync("api/audit/export?kinds=tool_call,gossip&from=nope", ApiGateway.Auditor);

        Assert.Equal(400, status);
        Assert.Equal(["from", "kinds"], body!["errors"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Verify_Auditor_ValidUntilAHistoryRowIsChanged()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var from = DateTimeOffset.UtcNow;
        var id = await api.RequestAsync("verify-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);
        var to = DateTimeOffset.UtcNow;
        var range = $"from={Iso(from)}&to={Iso(to)}";

        var (status, clean, text) = await api.PostAsync($"api/audit/verify?{range}", ApiGateway.Auditor);
        await TamperAsync(id);
        var (_, broken, _) = await api.PostAsync($"api/audit/verify?{range}", ApiGateway.Admin);
        var bad = await api.PostAsync("api/audit/verify?from=2025-13-01", ApiGateway.Auditor);

        Assert.True(status == 200, text);
        Assert.True(clean!["valid"]!.GetValue<bool>(), text);
        Assert.Equal((1, 0), (clean["workflows"]!["checked"]!.GetValue<int>(), clean["workflows"]!["brokenCount"]!.GetValue<int>()));
        Assert.True(clean["toolCalls"]!["checked"]!.GetValue<long>() >= 1);
        Assert.False(broken!["valid"]!.GetValue<bool>());
        var chain = Assert.Single(broken["workflows"]!["broken"]!.AsArray())!;
        Assert.Equal((id, 1), (chain["approvalId"]!.GetValue<Guid>(), chain["brokenAt"]!.GetValue<int>()));
        Assert.Contains("altered", chain["problem"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal((400, "from"), (bad.Status, Assert.Single(bad.Body!["errors"]!.AsObject()).Key));
    }

    private async Task<List<JsonNode>> ExportAsync(string query)
    {
        using var client = api.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/audit/export?" + query);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", api.TokenOf(ApiGateway.Auditor));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!)];
    }

    private async Task InsertChannelRefusalsAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(api.Gateway.ConnectionString);
        await connection.OpenAsync();
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("INSERT INTO slack_refusal (approval_id, team_id, user_id, email, action, reason) VALUES ($1, 'T1', 'U1', 'x@example.com', 'approve', 'not an approver')")
                {
                    Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } },
                },
                new NpgsqlBatchCommand("INSERT INTO teams_refusal (approval_id, user_id, aad_object_id, email, action, reason) VALUES ($1, '29:1', 'aad-1', 'y@example.com', 'deny', 'owner')")
                {
                    Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } },
                },
            },
        };
        await batch.ExecuteNonQueryAsync();
    }

    // As a superuser can: with the append-only and chain triggers off, the stored body of the first event is rewritten.
    private async Task TamperAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(TestPostgres.SuperuserConnectionString(api.Gateway.ConnectionString));
        await connection.OpenAsync();
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("ALTER TABLE wf_event DISABLE TRIGGER USER"),
                new NpgsqlBatchCommand("UPDATE wf_event SET body = '{\"tampered\":true}' WHERE wf_id = $1 AND seq = 1")
                {
                    Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } },
                },
                new NpgsqlBatchCommand("ALTER TABLE wf_event ENABLE TRIGGER USER"),
            },
        };
        await batch.ExecuteNonQueryAsync();
    }

    private static string Iso(DateTimeOffset time) => Uri.EscapeDataString(time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffffK", CultureInfo.InvariantCulture));

    private static List<Guid> Ids(JsonNode page) => [.. page["items"]!.AsArray().Select(item => item!["id"]!.GetValue<Guid>())];
}
