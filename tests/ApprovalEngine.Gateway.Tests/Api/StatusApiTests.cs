using System.Text.Json.Nodes;

namespace ApprovalEngine.Gateway.Tests.Api;

/// <summary><c>/api/me</c>, <c>/api/status</c> and the OpenAPI document, on a real gateway.</summary>
public sealed class StatusApiTests(ApiGateway api) : IClassFixture<ApiGateway>
{
    // Every endpoint of the contract (issue 8) but the console: method and path as the document spells them.
    public static readonly TheoryData<string, string> ContractEndpoints = new()
    {
        { "get", "/api/me" },
        { "get", "/api/status" },
        { "get", "/api/approvals" },
        { "get", "/api/approvals/stream" },
        { "get", "/api/approvals/{id}" },
        { "get", "/api/approvals/{id}/history" },
        { "post", "/api/approvals/{id}/approve" },
        { "post", "/api/approvals/{id}/deny" },
        { "post", "/api/approvals/{id}/withdraw" },
        { "get", "/api/audit/tool-calls" },
        { "get", "/api/audit/workflows" },
        { "get", "/api/audit/export" },
        { "post", "/api/audit/verify" },
        { "post", "/api/policy/explain" },
    };

    [Theory]
    [InlineData(ApiGateway.Ops, "approver")]
    [InlineData(ApiGateway.Auditor, "auditor")]
    [InlineData(ApiGateway.Admin, "admin")]
    public async Task Me_AnyPerson_TheirEmailAndRoles(string email, string role)
    {
        var (status, body, _) = await api.GetAsync("api/me", email);

        Assert.Equal(200, status);
        Assert.Equal(JsonNode.Parse($$"""{"email":"{{email}}","roles":["{{role}}"]}""")!.ToJsonString(), body!.ToJsonString());
    }

    [Fact]
    public async Task Status_Approver_AgentsUpstreamsAndDatabase()
    {
        // The filesystem upstream connects in the background; a gated call is proof it is ready.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await api.RequestAsync("status-" + Guid.NewGuid().ToString("N")[..6], timeout.Token);

        var (status, body, text) = await api.GetAsync("api/status", ApiGateway.Other);

        Assert.True(status == 200, text);
        Assert.Equal("ok", body!["database"]!.GetValue<string>());
        var agent = Assert.Single(body["agents"]!.AsArray())!;
        Assert.Equal(JsonNode.Parse($$"""{"id":"agent","owner":"{{ApiGateway.Owner}}","groups":[],"bundles":["files"]}""")!.ToJsonString(), agent.ToJsonString());
        var upstream = Assert.Single(body["upstreams"]!.AsArray())!;
        Assert.Equal(("fs", "stdio", "ready"), (upstream["name"]!.GetValue<string>(), upstream["transport"]!.GetValue<string>(), upstream["state"]!.GetValue<string>()));
        Assert.True(upstream["tools"]!.GetValue<int>() > 5);
        Assert.Null(upstream["lastError"]);
        Assert.DoesNotContain(api.Gateway.KeyOf("agent"), text, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ContractEndpoints))]
    public async Task OpenApi_Anonymous_DescribesTheEndpointWithBearerAndResponses(string method, string path)
    {
        var document = await DocumentAsync();

        var operation = document["paths"]?[path]?[method];
        Assert.True(operation is not null, $"{method.ToUpperInvariant()} {path} is not in the document");
        Assert.NotNull(operation["responses"]?["200"]);
        Assert.NotNull(operation["responses"]?["401"]);
        Assert.Contains(operation["security"]!.AsArray(), requirement => requirement!["bearer"] is not null);
        Assert.False(string.IsNullOrWhiteSpace(operation["summary"]?.GetValue<string>()), $"{method} {path} has no summary");
    }

    [Fact]
    public async Task OpenApi_Anonymous_SchemesParametersAndTypedBodies()
    {
        var document = await DocumentAsync();

        Assert.Equal("http", document["components"]!["securitySchemes"]!["bearer"]!["type"]!.GetValue<string>());
        Assert.Equal("bearer", document["components"]!["securitySchemes"]!["bearer"]!["scheme"]!.GetValue<string>());
        var list = document["paths"]!["/api/approvals"]!["get"]!;
        var parameters = list["parameters"]!.AsArray().ToDictionary(p => p!["name"]!.GetValue<string>(), p => p!);
        Assert.Equal(["cursor", "limit", "mine", "status"], parameters.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("integer", parameters["limit"]["schema"]!["type"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(parameters["status"]["description"]?.GetValue<string>()));
        var view = document["paths"]!["/api/approvals/{id}"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>();
        Assert.Equal("#/components/schemas/ApprovalView", view);
        var properties = document["components"]!["schemas"]!["ApprovalView"]!["properties"]!.AsObject().Select(p => p.Key).ToHashSet();
        Assert.Superset(new HashSet<string> { "id", "status", "open", "agentId", "arguments", "approvers", "votes", "youMayDecide", "console" }, properties);
        var toolCalls = document["paths"]!["/api/audit/tool-calls"]!["get"]!["parameters"]!.AsArray().Select(p => p!["name"]!.GetValue<string>());
        Assert.Superset(new HashSet<string> { "agent", "bundle", "upstream", "tool", "toolName", "decision", "rule", "shadowDecision", "outcome", "approvalId", "from", "to", "cursor", "limit" }, toolCalls.ToHashSet());
        Assert.Contains(document["paths"]!["/api/approvals/{id}/approve"]!["post"]!["parameters"]!.AsArray(), p => p!["name"]!.GetValue<string>() == "Idempotency-Key");
        Assert.Null(document["paths"]!["/mcp"]);
        Assert.Null(document["paths"]!["/healthz"]);
        Assert.Null(document["paths"]!["/api/messages"]);
    }

    private async Task<JsonNode> DocumentAsync()
    {
        var (status, body, text) = await api.GetAsync("openapi/v1.json", email: null);
        Assert.True(status == 200, text);
        return body!;
    }
}
