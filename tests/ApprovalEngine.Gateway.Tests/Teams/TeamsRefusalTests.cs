using ApprovalEngine.Notifiers.Teams;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Teams;

public sealed class TeamsRefusalTests(TeamsGateway teams) : IClassFixture<TeamsGateway>
{
    [Theory]
    [InlineData("outsider", "outsider@example.com is not an approver of group ops")]
    [InlineData("owner", "owner@example.com owns agent agent and may not approve its own request")]
    public async Task ApproveInvoke_ByAnOutsiderOrTheOwner_IsAnErrorResponseAndChangesNothing(string who, string reason)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await teams.ConnectAsync(timeout.Token);
        var marker = $"refused-{who}.txt";
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = Path.Combine(teams.Sandbox, marker), ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        var pending = await teams.PendingAsync(marker, timeout.Token);

        var (status, answer) = await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.ApproveVerb, who));
        var after = await teams.Gateway.Get<WorkflowRuntime>().GetAsync(pending.Id);
        var refusals = await RefusalsAsync(pending.Id);

        Assert.Equal(200, status);
        Assert.Equal((403, "application/vnd.microsoft.error", "NotAuthorized"), (answer["statusCode"]!.GetValue<int>(), answer["type"]!.GetValue<string>(), answer["value"]!["code"]!.GetValue<string>()));
        Assert.Contains(reason, answer["value"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(ApprovalStatus.Pending, after!.State.Status);
        Assert.Empty(after.State.Votes);
        Assert.Equal([(who + "@example.com", "approve")], refusals);
        Assert.False(call.IsCompleted);

        await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.DenyVerb, "ops"));
        await call;
    }

    [Fact]
    public async Task ApproveInvoke_DoubleClick_OneDecisionAndTheSecondClickIsToldNothingChanged()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await teams.ConnectAsync(timeout.Token);
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = Path.Combine(teams.Sandbox, "double.txt"), ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        var pending = await teams.PendingAsync("double.txt", timeout.Token);

        var first = await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.ApproveVerb, "ops"));
        var second = await teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.ApproveVerb, "ops"));
        await call;
        var history = await teams.Gateway.Get<WorkflowRuntime>().GetHistoryAsync(pending.Id);

        Assert.Contains("Recorded", first.Body.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(200, second.Body["statusCode"]!.GetValue<int>());
        Assert.Contains("Nothing changed", second.Body.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(1, history.Count(h => h.Type == "execution_started"));
        Assert.Equal(["ops@example.com"], (await teams.Gateway.Get<WorkflowRuntime>().GetAsync(pending.Id))!.State.DecidedBy);
    }

    [Fact]
    public async Task Invokes_TwoApproversAtOnce_ExactlyOneDecisionAndTheLoserLearnsWhoWon()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await teams.ConnectAsync(timeout.Token);
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = Path.Combine(teams.Sandbox, "race.txt"), ["content"] = "x" }, cancellationToken: timeout.Token).AsTask();
        var pending = await teams.PendingAsync("race.txt", timeout.Token);

        var answers = await Task.WhenAll(
            teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.ApproveVerb, "ops")),
            teams.InvokeAsync(teams.Invoke(pending.Id, ApprovalAdaptiveCard.DenyVerb, "second", reason: "racing")));
        await call;
        var state = (await teams.Gateway.Get<WorkflowRuntime>().GetAsync(pending.Id))!.State;
        var texts = answers.Select(a => a.Body.ToJsonString()).ToList();

        Assert.All(answers, a => Assert.Equal((200, 200), (a.Status, a.Body["statusCode"]!.GetValue<int>())));
        Assert.Single(state.DecidedBy);
        Assert.Equal(1, texts.Count(t => t.Contains("Recorded", StringComparison.Ordinal)));
        var loser = Assert.Single(texts, t => t.Contains("Nothing changed", StringComparison.Ordinal));
        Assert.Contains(state.DecidedBy[0], loser, StringComparison.Ordinal);
    }

    private async Task<List<(string?, string)>> RefusalsAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(teams.Gateway.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT email, action FROM teams_refusal WHERE approval_id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string?, string)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetString(1)));
        }

        return rows;
    }
}
