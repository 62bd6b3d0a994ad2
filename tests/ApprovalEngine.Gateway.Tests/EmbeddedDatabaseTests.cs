using System.Net;
using ApprovalEngine.Gateway.Database;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalEngine.Gateway.Tests;

public sealed class EmbeddedDatabaseTests
{
    // initdb with fsync on takes a few seconds on the project's machines.
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Host_NoConnectionString_RunsEmbeddedPostgresThatStopsWithTheHostAndKeepsItsData()
    {
        var root = Directory.CreateTempSubdirectory("ae-gw-embedded-").FullName;
        var dataDirectory = Path.Combine(root, "postgres");
        try
        {
            Dictionary<string, string?> settings = new()
            {
                [GatewayDatabase.DataDirectoryKey] = dataDirectory,
                ["ApprovalEngine:Runtime:PollInterval"] = "00:00:00.200",
            };

            Guid workflowId;
            int firstPid;
            await using (var factory = new GatewayFactory(settings))
            {
                using var client = factory.CreateClient();
                using (await GatewayFactory.WaitForStatusAsync(client, "/readyz", HttpStatusCode.OK, ReadyTimeout))
                {
                }

                var server = factory.Services.GetRequiredService<GatewayDatabase>().Embedded;
                Assert.NotNull(server);
                Assert.Equal(dataDirectory, server.DataDirectory);
                firstPid = server.Pid;
                Assert.True(Directory.Exists($"/proc/{firstPid}"), "the embedded server should be running");

                var runtime = factory.Services.GetRequiredService<WorkflowRuntime>();
                workflowId = (await runtime.StartAsync("embedded-restart", TestRequests.Create())).Workflow.Id;
            }

            Assert.False(Directory.Exists($"/proc/{firstPid}"), $"PostgreSQL (pid {firstPid}) should be gone once the host is disposed");

            // A restart on the same data directory finds the pending approval.
            await using (var factory = new GatewayFactory(settings))
            {
                var runtime = factory.Services.GetRequiredService<WorkflowRuntime>();
                var snapshot = await runtime.GetAsync(workflowId);
                Assert.NotNull(snapshot);
                Assert.Equal(ApprovalStatus.Pending, snapshot.State.Status);
                var pid = factory.Services.GetRequiredService<GatewayDatabase>().Embedded!.Pid;
                await factory.DisposeAsync();
                Assert.False(Directory.Exists($"/proc/{pid}"));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
