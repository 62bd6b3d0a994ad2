using System.Text.Json.Nodes;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Tests.Api;

/// <summary>The approvals endpoints against a real gateway, with approvals made by real gated calls.</summary>
public sealed class ApprovalsApiTests(ApiGateway api) : IClassFixture<ApiGateway>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task GetApproval_ApproverOfIt_SeesTheViewAndMayDecide()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("view-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var (status, body, _) = await api.GetAsync($"api/approvals/{id}", ApiGateway.Ops);

        Assert.Equal(200, status);
        Assert.Equal(id, body!["id"]!.GetValue<Guid>());
        Assert.Equal(("pending", true), (body["status"]!.GetValue<string>(), body["open"]!.GetValue<bool>()));
        Assert.Equal(("agent", ApiGateway.Owner), (body["agentId"]!.GetValue<string>(), body["agentOwner"]!.GetValue<string>()));
        Assert.Equal(("files", "fs", "write_file"), (body["bundle"]!.GetValue<string>(), body["upstream"]!.GetValue<string>(), body["tool"]!.GetValue<string>()));
        Assert.EndsWith(".txt", body["arguments"]!["path"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("sha256:", body["argumentsDigest"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(("default", "ops", 1, 0), (body["rule"]!.GetValue<string>(), body["approverGroup"]!.GetValue<string>(), body["quorum"]!.GetValue<int>(), body["stage"]!.GetValue<int>()));
        Assert.Equal([ApiGateway.Ops, ApiGateway.Owner], body["approvers"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Empty(body["votes"]!.AsArray());
        Assert.Null(body["decidedAt"]);
        Assert.True(body["youMayDecide"]!.GetValue<bool>());
        Assert.Equal($"{ApiGateway.PublicUrl}/console/approvals/{id}", body["console"]!.GetValue<string>());
    }

    [Fact]
    public async Task GetApproval_OwnerAuditorAndAdmin_SeeItButMayNotDecide()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("seen-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var owner = await api.GetAsync($"api/approvals/{id}", ApiGateway.Owner);
        var auditor = await api.GetAsync($"api/approvals/{id}", ApiGateway.Auditor);
        var admin = await api.GetAsync($"api/approvals/{id}", ApiGateway.Admin);

        Assert.Equal((200, false), (owner.Status, owner.Body!["youMayDecide"]!.GetValue<bool>()));
        Assert.Equal((200, false), (auditor.Status, auditor.Body!["youMayDecide"]!.GetValue<bool>()));
        Assert.Equal((200, false), (admin.Status, admin.Body!["youMayDecide"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task GetApproval_ApproverOfAnotherGroup_403NotPermittedAndRecorded()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("not-yours-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var get = await api.GetAsync($"api/approvals/{id}", ApiGateway.Other);
        var history = await api.GetAsync($"api/approvals/{id}/history", ApiGateway.Other);

        Assert.Equal(403, get.Status);
        Assert.Equal($"{ApiGateway.Other} is not an approver of approval {id}.", get.Body!["detail"]!.GetValue<string>());
        Assert.Equal(403, history.Status);
        Assert.Equal([$"not_permitted|403|GET|{ApiGateway.Other}|{ApiGateway.Other} is not an approver of approval {id}."], await api.RefusalsAsync($"/api/approvals/{id}"));
        Assert.Single(await api.RefusalsAsync($"/api/approvals/{id}/history"));
    }

    [Fact]
    public async Task GetApproval_Unknown_404()
    {
        var unknown = Guid.NewGuid();

        var get = await api.GetAsync($"api/approvals/{unknown}", ApiGateway.Auditor);
        var history = await api.GetAsync($"api/approvals/{unknown}/history", ApiGateway.Ops);

        Assert.Equal(404, get.Status);
        Assert.Equal($"There is no approval {unknown}.", get.Body!["detail"]!.GetValue<string>());
        Assert.Equal(404, history.Status);
    }

    [Fact]
    public async Task History_ApproverOfIt_EventsWithAValidChain()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("history-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);
        var (denied, _, _) = await api.PostAsync($"api/approvals/{id}/deny", ApiGateway.Ops, """{"reason": "not today"}""");

        var (status, body, _) = await api.GetAsync($"api/approvals/{id}/history", ApiGateway.Ops);

        Assert.Equal(200, denied);
        Assert.Equal(200, status);
        Assert.Equal(id, body!["approvalId"]!.GetValue<Guid>());
        var events = body["events"]!.AsArray();
        Assert.Equal(Enumerable.Range(1, events.Count), events.Select(e => e!["seq"]!.GetValue<int>()));
        Assert.Contains(events, e => e!["actor"]!.GetValue<string>() == ApiGateway.Ops && e["body"]!.ToJsonString().Contains("not today", StringComparison.Ordinal));
        Assert.All(events, e => Assert.Matches("^[0-9a-f]{64}$", e!["hash"]!.GetValue<string>()));
        Assert.Equal(JsonNode.Parse($$"""{"valid":true,"checkedEvents":{{events.Count}},"brokenAt":null,"problem":null}""")!.ToJsonString(), body["chain"]!.ToJsonString());
    }

    [Fact]
    public async Task ListApprovals_Approver_OnlyTheirsNewestFirstWhateverTheyAsk()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var marker = Guid.NewGuid().ToString("N")[..6];
        var forOps = await api.RequestAsync("list-ops-" + marker, timeout.Token);
        var forOthers = await api.RequestAsync("list-others-" + marker, timeout.Token);

        var ops = await api.GetAsync("api/approvals?limit=1000", ApiGateway.Ops);
        var other = await api.GetAsync("api/approvals?mine=false&limit=1000", ApiGateway.Other);
        var auditorAll = await api.GetAsync("api/approvals?limit=1000", ApiGateway.Auditor);
        var auditorMine = await api.GetAsync("api/approvals?mine=true", ApiGateway.Auditor);

        var opsIds = Ids(ops.Body!);
        Assert.Contains(forOps, opsIds);
        Assert.DoesNotContain(forOthers, opsIds);
        Assert.Equal([forOthers], Ids(other.Body!).Where(id => id == forOthers || id == forOps));
        Assert.True(Ids(auditorAll.Body!).IndexOf(forOthers) < Ids(auditorAll.Body!).IndexOf(forOps), "newest first");
        Assert.Empty(Ids(auditorMine.Body!));
        Assert.All(ops.Body!["items"]!.AsArray(), item => Assert.True(item!["open"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task ListApprovals_StatusFilter_OnlyThatStatus()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("status-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);
        await api.PostAsync($"api/approvals/{id}/deny", ApiGateway.Ops);

        var denied = await api.GetAsync("api/approvals?status=denied&limit=1000", ApiGateway.Ops);
        var open = await api.GetAsync("api/approvals?limit=1000", ApiGateway.Ops);

        Assert.Contains(id, Ids(denied.Body!));
        Assert.All(denied.Body!["items"]!.AsArray(), item => Assert.Equal("denied", item!["status"]!.GetValue<string>()));
        Assert.DoesNotContain(id, Ids(open.Body!));
    }

    [Fact]
    public async Task ListApprovals_PageByPage_TheCursorsWalkEveryApprovalOnce()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var marker = Guid.NewGuid().ToString("N")[..6];
        for (var i = 0; i < 3; i++)
        {
            await api.RequestAsync($"page-{marker}-{i}", timeout.Token);
        }

        var all = Ids((await api.GetAsync("api/approvals?status=all&limit=1000", ApiGateway.Auditor)).Body!);
        var walked = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var (status, body, text) = await api.GetAsync($"api/approvals?status=all&limit=2{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", ApiGateway.Auditor);
            Assert.True(status == 200, text);
            walked.AddRange(Ids(body!));
            cursor = body!["nextCursor"]?.GetValue<string>();
            pages++;
        }
        while (cursor is not null && pages < 1000);

        Assert.True(all.Count >= 3);
        Assert.Equal(all, walked);
        Assert.Equal((all.Count + 1) / 2, pages);
    }

    [Fact]
    public async Task ListApprovals_BadParameters_400NamingEachOne()
    {
        var (status, body, text) = await api.GetAsync("api/approvals?status=bogus&limit=0&mine=maybe", ApiGateway.Ops);
        var cursor = await api.GetAsync("api/approvals?cursor=not-a-cursor", ApiGateway.Ops);
        var tooMany = await api.GetAsync("api/approvals?limit=1001", ApiGateway.Ops);

        Assert.Equal(400, status);
        Assert.Equal(["limit", "mine", "status"], body!["errors"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Contains("status: 'bogus' is not a status", text, StringComparison.Ordinal);
        Assert.Equal(400, cursor.Status);
        Assert.Equal("cursor", Assert.Single(cursor.Body!["errors"]!.AsObject()).Key);
        Assert.Equal(400, tooMany.Status);
        Assert.Equal("limit: must be a whole number from 1 to 1000 (got '1001').", tooMany.Body!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Approve_Approver_ApprovesAndTheViewShowsTheVote()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("approve-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var (status, outcome, _) = await api.PostAsync($"api/approvals/{id}/approve", ApiGateway.Ops, """{"comment": "fine"}""");
        var runtime = api.Gateway.Get<WorkflowRuntime>();
        await runtime.AwaitAsync(id, s => s.State.IsFinal, timeout.Token);
        var (_, view, _) = await api.GetAsync($"api/approvals/{id}", ApiGateway.Ops);

        Assert.Equal(200, status);
        Assert.Equal("Approved", outcome!["status"]!.GetValue<string>());
        Assert.Equal("completed", view!["status"]!.GetValue<string>());
        var vote = Assert.Single(view["votes"]!.AsArray())!;
        Assert.Equal((ApiGateway.Ops, "fine"), (vote["approver"]!.GetValue<string>(), vote["comment"]!.GetValue<string>()));
        Assert.Equal([ApiGateway.Ops], view["decidedBy"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.False(view["youMayDecide"]!.GetValue<bool>());
        Assert.NotNull(view["result"]);
    }

    [Fact]
    public async Task Approve_AgentsOwner_403SelfApprovalRecordedAndStillPending()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("self-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var (status, body, _) = await api.PostAsync($"api/approvals/{id}/approve", ApiGateway.Owner);
        var state = (await api.Gateway.Get<WorkflowRuntime>().GetAsync(id))!.State;

        Assert.Equal(403, status);
        Assert.Contains("may not approve its own request", body!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var refusal = Assert.Single(await api.RefusalsAsync($"/api/approvals/{id}/approve"));
        Assert.StartsWith($"not_permitted|403|POST|{ApiGateway.Owner}|{ApiGateway.Owner} may not approve approval {id}: ", refusal, StringComparison.Ordinal);
        Assert.Equal(ApprovalStatus.Pending, state.Status);
    }

    [Fact]
    public async Task ApproveAndDeny_ApproverOfAnotherGroup_403NotPermittedAndNothingSignalled()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("wrong-group-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var approve = await api.PostAsync($"api/approvals/{id}/approve", ApiGateway.Other);
        var deny = await api.PostAsync($"api/approvals/{id}/deny", ApiGateway.Other);
        var workflow = (await api.Gateway.Get<WorkflowRuntime>().GetAsync(id))!;
        await api.PostAsync($"api/approvals/{id}/deny", ApiGateway.Ops);
        var afterDecision = await api.PostAsync($"api/approvals/{id}/approve", ApiGateway.Other);

        Assert.Equal((403, 403), (approve.Status, deny.Status));
        Assert.Equal($"{ApiGateway.Other} is not an approver of approval {id}.", approve.Body!["detail"]!.GetValue<string>());
        Assert.Equal(2, (await api.RefusalsAsync($"/api/approvals/{id}/approve")).Count);
        Assert.Single(await api.RefusalsAsync($"/api/approvals/{id}/deny"));
        Assert.Equal(ApprovalStatus.Pending, workflow.State.Status);

        // Once decided, still a refusal rather than a conflict that would name who decided.
        Assert.Equal(403, afterDecision.Status);
        Assert.DoesNotContain(ApiGateway.Ops, afterDecision.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ApiGateway.Auditor, "approve")]
    [InlineData(ApiGateway.Auditor, "deny")]
    [InlineData(ApiGateway.Auditor, "withdraw")]
    [InlineData(ApiGateway.Ops, "withdraw")]
    [InlineData(ApiGateway.Admin, "approve")]
    public async Task Decide_WithoutTheRole_403MissingRoleRecorded(string email, string decision)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync($"role-{decision}-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var (status, body, _) = await api.PostAsync($"api/approvals/{id}/{decision}", email);

        Assert.Equal(403, status);
        Assert.StartsWith("This needs ", body!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith($"missing_role|403|POST|{email}|", Assert.Single(await api.RefusalsAsync($"/api/approvals/{id}/{decision}")), StringComparison.Ordinal);
        Assert.Equal(ApprovalStatus.Pending, (await api.Gateway.Get<WorkflowRuntime>().GetAsync(id))!.State.Status);
    }

    [Fact]
    public async Task Withdraw_Admin_CancelsWithTheReason()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("withdraw-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var (status, outcome, _) = await api.PostAsync($"api/approvals/{id}/withdraw", ApiGateway.Admin, """{"reason": "duplicate"}""");
        var (_, view, _) = await api.GetAsync($"api/approvals/{id}", ApiGateway.Admin);

        Assert.Equal(200, status);
        Assert.Equal("Cancelled", outcome!["status"]!.GetValue<string>());
        Assert.Equal(("cancelled", "duplicate"), (view!["status"]!.GetValue<string>(), view["reason"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Deny_BodyNotJson_400()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await api.RequestAsync("bad-body-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var (status, body, _) = await api.PostAsync($"api/approvals/{id}/deny", ApiGateway.Ops, "{not json");

        Assert.Equal(400, status);
        Assert.StartsWith("The body is not JSON", body!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "api/approvals")]
    [InlineData("GET", "api/approvals/stream")]
    [InlineData("GET", "api/approvals/00000000-0000-0000-0000-000000000001")]
    [InlineData("GET", "api/approvals/00000000-0000-0000-0000-000000000001/history")]
    [InlineData("POST", "api/approvals/00000000-0000-0000-0000-000000000001/approve")]
    [InlineData("POST", "api/approvals/00000000-0000-0000-0000-000000000001/deny")]
    [InlineData("POST", "api/approvals/00000000-0000-0000-0000-000000000001/withdraw")]
    [InlineData("GET", "api/audit/tool-calls")]
    [InlineData("GET", "api/audit/workflows")]
    [InlineData("GET", "api/audit/export")]
    [InlineData("POST", "api/audit/verify")]
    [InlineData("GET", "api/me")]
    [InlineData("GET", "api/status")]
    public async Task AnyEndpoint_NoTokenOrAgentKey_401Recorded(string method, string path)
    {
        var none = await api.SendAsync(new HttpMethod(method), path, email: null);
        var agentKey = await api.SendAsync(new HttpMethod(method), path, email: null, token: api.Gateway.KeyOf("agent"));

        Assert.Equal((401, 401), (none.Status, agentKey.Status));
        Assert.DoesNotContain(api.Gateway.KeyOf("agent"), agentKey.Text, StringComparison.Ordinal);
        var recorded = await api.RefusalsAsync("/" + path);
        Assert.Contains(recorded, r => r.StartsWith($"no_token|401|{method}|-|", StringComparison.Ordinal));
        Assert.Contains(recorded, r => r.StartsWith($"agent_key|401|{method}|-|", StringComparison.Ordinal));
    }

    private static List<Guid> Ids(JsonNode page) => [.. page["items"]!.AsArray().Select(item => item!["id"]!.GetValue<Guid>())];
}
