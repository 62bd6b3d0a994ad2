using System.Text.Json;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Api;

/// <summary>Migration 0008 fills wf_instance.approvers of the approvals that existed before it, from their stored state.</summary>
public sealed class ApproversBackfillTests
{
    [Fact]
    public async Task Migration0008_ExistingApproval_ApproversOfEveryStageLowerCased()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("api_backfill", migrate: false);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        foreach (var version in Enumerable.Range(1, 7))
        {
            await RunAsync(dataSource, Migration(version));
        }

        var escalating = State(new ApproverStage { Group = "ops", Approvers = ["Ops@Example.com", "b@example.com"], Timeout = TimeSpan.FromHours(1) },
            new ApproverStage { Group = "cto", Approvers = ["CTO@example.com", "b@example.com"], Timeout = TimeSpan.FromHours(1) });
        var single = State(new ApproverStage { Group = "ops", Approvers = ["a@example.com"], Timeout = TimeSpan.FromHours(1) }, null);
        await InsertAsync(dataSource, escalating);
        await InsertAsync(dataSource, single);

        await RunAsync(dataSource, Migration(8));

        Assert.Equal(["b@example.com", "cto@example.com", "ops@example.com"], await ApproversAsync(dataSource, escalating.Id));
        Assert.Equal(["a@example.com"], await ApproversAsync(dataSource, single.Id));
    }

    private static string Migration(int version)
    {
        var assembly = typeof(WorkflowRuntime).Assembly;
        var name = assembly.GetManifestResourceNames().Single(n => n.StartsWith($"Migrations/{version:0000}_", StringComparison.Ordinal));
        using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
        return reader.ReadToEnd();
    }

    private static async Task RunAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static ApprovalState State(ApproverStage stage, ApproverStage? escalation) => new()
    {
        Id = Guid.NewGuid(),
        Status = ApprovalStatus.Pending,
        CreatedAt = DateTimeOffset.UtcNow,
        DeadlineAt = DateTimeOffset.UtcNow.AddHours(1),
        Request = new ApprovalRequest
        {
            AgentId = "bot",
            Bundle = "b",
            Upstream = "u",
            Tool = "t",
            Arguments = JsonSerializer.SerializeToElement(new { }),
            ArgumentsDigest = "sha256:00",
            Approvers = stage,
            EscalateTo = escalation,
        },
    };

    private static async Task InsertAsync(NpgsqlDataSource dataSource, ApprovalState state)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO wf_instance (id, kind, business_key, state, version, data, agent_id, bundle, upstream, tool, deadline_at)
            VALUES ($1, 'approval', $2, 'pending', 1, $3::jsonb, 'bot', 'b', 'u', 't', now() + interval '1 hour')
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = state.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = state.Id.ToString() });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = JsonSerializer.Serialize(state, WorkflowJson.Options) });
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<string[]> ApproversAsync(NpgsqlDataSource dataSource, Guid id)
    {
        await using var command = dataSource.CreateCommand("SELECT approvers FROM wf_instance WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        return (string[])(await command.ExecuteScalarAsync())!;
    }
}
