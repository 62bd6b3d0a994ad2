using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Tests.Approvals;

/// <summary>A task is its approval, kept in PostgreSQL: it outlives the node (and the session) that created it.</summary>
public sealed class ApprovalTaskNodeTests
{
    [Fact]
    public async Task TaskResult_CreatingNodeStopped_AnotherNodeOnTheSameDatabaseAnswers()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var directory = Path.Combine(Path.GetTempPath(), "ae-task-nodes-" + Guid.NewGuid().ToString("N")[..12]);
        var sandbox = Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(sandbox);
        var approverToken = UserTokens.Generate();
        var config = Config(sandbox, approverToken);
        var target = Path.Combine(sandbox, "survives.txt");

        try
        {
            await using var first = await McpGateway.StartAsync(config, directory: Path.Combine(directory, "a"));
            await using var second = await McpGateway.StartAsync(config, directory: Path.Combine(directory, "b"), sameDatabaseAs: first);
            string taskId;
            using (var creator = await TaskSession.StartAsync(first, "agent"))
            {
                var created = await creator.CallWithTaskAsync("fs__write_file", new JsonObject { ["path"] = target, ["content"] = "outlived its node" });
                taskId = created["result"]!["task"]!["taskId"]!.GetValue<string>();
            }

            // The first node goes, and its session with it; the agent starts a new session on the other node.
            await first.DisposeAsync();
            using var agent = await TaskSession.StartAsync(second, "agent");
            var before = await agent.SendAsync("tasks/get", new JsonObject { ["taskId"] = taskId });
            var approve = await ApproveAsync(second, taskId, approverToken);
            var result = await agent.SendAsync("tasks/result", new JsonObject { ["taskId"] = taskId });
            var history = await second.Get<WorkflowRuntime>().GetHistoryAsync(Guid.Parse(taskId), timeout.Token);

            Assert.Equal("working", before["result"]!["status"]!.GetValue<string>());
            Assert.Equal(200, approve);
            Assert.Contains("Successfully wrote", result["result"]!["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("outlived its node", await File.ReadAllTextAsync(target, timeout.Token));
            Assert.Equal(1, history.Count(h => h.Type == "execution_started"));
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // A child process may still hold a file for a moment; the temp folder is cleaned by the OS eventually.
            }
        }
    }

    private static string Config(string sandbox, string approverToken)
    {
                return $$"""
            {{GatewayYaml.FilesAgent(sandbox)}}
            approvers:
              ops:
                members: [ops@example.com]
            users:
              ops@example.com: {roles: [approver], tokens: ["{{UserTokens.Hash(approverToken)}}"]}
            policy:
              default: read-only
              approvers: [ops]
              progressInterval: 200ms
              approval: {timeout: 1h, hold: 60s}
            """;
    }

    private static async Task<int> ApproveAsync(McpGateway gateway, string id, string token)
    {
        using var client = gateway.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/approvals/{id}/approve");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await client.SendAsync(request);
        return (int)response.StatusCode;
    }
}
