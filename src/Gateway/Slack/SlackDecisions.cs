using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Notifiers.Slack;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Slack;

/// <summary>
/// Turns a click into a decision, the same way for HTTP and Socket Mode. The clicker is identified by the email of
/// their Slack profile; a click from someone who is not an approver of the approval's current group, or an approval
/// by the agent's own owner, is refused with an ephemeral message to them alone and recorded in slack_refusal. Every
/// decision is an engine signal with a key derived from the click, so a repeated delivery gets the first answer and
/// two people racing produce one decision (the engine's guarantee; the loser is told who won).
/// </summary>
internal sealed partial class SlackDecisions(
    WorkflowRuntime runtime, SlackClients clients, SlackDirectory directory, SlackStore store, LiveConfiguration config, ILogger<SlackDecisions> logger)
{
    public async Task HandleAsync(SlackInteraction click, CancellationToken ct)
    {
        if (click.Kind == SlackInteractionKind.Other || click.UserId is not { } userId)
        {
            return;
        }

        if (click.ApprovalId is not { } id)
        {
            await TellAsync(click, "This card does not name an approval.", ct);
            return;
        }

        var (email, failure) = await directory.EmailOfAsync(click.TeamId, userId, ct);
        if (failure is not null)
        {
            LogLookupFailed(userId, failure.Error ?? "unknown");
            await TellAsync(click, "Slack could not tell us who you are just now; nothing was decided. Please try again in a moment.", ct);
            return;
        }

        if (email is null)
        {
            await RefuseAsync(click, id, null, "your Slack profile has no email the gateway may read, so it cannot match you to an approver", ct);
            return;
        }

        var workflow = await runtime.GetAsync(id, ct);
        if (workflow is null)
        {
            await TellAsync(click, $"Approval {id} does not exist.", ct);
            return;
        }

        // Checked here so that outsiders change nothing at all; the engine checks the same again when it decides.
        var state = workflow.State;
        if (!state.CurrentStage.Approvers.Any(a => Same(a, email)))
        {
            await RefuseAsync(click, id, email, $"{email} is not an approver of group {state.CurrentStage.Group}", ct);
            return;
        }

        if (click.Kind == SlackInteractionKind.Approve && Same(state.Request.AgentOwner, email))
        {
            await RefuseAsync(click, id, email, $"{email} owns agent {state.Request.AgentId} and may not approve its own request", ct);
            return;
        }

        switch (click.Kind)
        {
            case SlackInteractionKind.Approve:
                var approved = await runtime.SignalAsync(id, new SignalRequest(SignalNames.Approve, Key(click, click.ActionTs), email), ct);
                await ReportAsync(click, id, email, approved, ct);
                break;
            case SlackInteractionKind.DenyClicked:
                await OpenDenyModalAsync(click, state, ct);
                break;
            case SlackInteractionKind.DenySubmitted:
                var payload = JsonSerializer.SerializeToElement(new JsonObject { ["reason"] = click.DenyReason });
                var denied = await runtime.SignalAsync(id, new SignalRequest(SignalNames.Deny, Key(click, click.ViewId), email, payload), ct);
                await ReportAsync(click, id, email, denied, ct);
                break;
        }
    }

    private async Task OpenDenyModalAsync(SlackInteraction click, ApprovalState state, CancellationToken ct)
    {
        if (!state.IsOpen)
        {
            await TellAsync(click, DecidedAlready(state), ct);
            return;
        }

        if (click.TriggerId is null)
        {
            return;
        }

        var tool = state.Request.Upstream + config.Current.Config.Server.ToolSeparator + state.Request.Tool;
        var opened = await clients.Bot().OpenViewAsync(click.TriggerId, click.DenyModal(tool), ct);
        if (!opened.Ok)
        {
            // The trigger lives three seconds; if it ran out the person simply clicks again.
            LogModalFailed(state.Id, opened.Error ?? "unknown");
            await TellAsync(click, "The deny dialog could not be opened; nothing was decided. Please click Deny again.", ct);
        }
    }

    private async Task ReportAsync(SlackInteraction click, Guid id, string email, SignalOutcome outcome, CancellationToken ct)
    {
        if (outcome.Error is SignalError.NotAuthorized or SignalError.SelfApproval)
        {
            await RefuseAsync(click, id, email, outcome.Message, ct);
            return;
        }

        if (outcome.Accepted)
        {
            LogDecided(id, email, outcome.Status?.ToString() ?? "", outcome.Replayed);
        }

        // Everyone's card changes through chat.update; this answer is for the person who clicked.
        await TellAsync(click, outcome.Accepted ? $"Recorded: {outcome.Message}" : $"Nothing changed: {outcome.Message}", ct);
    }

    private async Task RefuseAsync(SlackInteraction click, Guid? id, string? email, string reason, CancellationToken ct)
    {
        var action = click.Kind switch
        {
            SlackInteractionKind.Approve => "approve",
            SlackInteractionKind.DenyClicked => "deny_click",
            _ => "deny",
        };
        LogRefused(click.UserId!, email ?? "unknown", id, action, reason);
        await store.RecordRefusalAsync(new SlackRefusal(id, click.TeamId, click.UserId!, email, action, reason), ct);
        await TellAsync(click, $":no_entry: You are not authorised to decide this request: {reason}.", ct);
    }

    /// <summary>An ephemeral message to the person who clicked, through the click's response_url.</summary>
    private async Task TellAsync(SlackInteraction click, string text, CancellationToken ct)
    {
        if (click.ResponseUrl is not { } url)
        {
            return;
        }

        var body = new JsonObject { ["response_type"] = "ephemeral", ["replace_original"] = false, ["text"] = ApprovalCard.Escape(text) };
        var result = await SlackWebApi.RespondAsync(clients.Http, url, body, ct);
        if (!result.Ok)
        {
            LogRespondFailed(result.Error ?? "unknown");
        }
    }

    /// <summary>One key per click: team, user and the click's own id (action_ts, or the modal's view id).</summary>
    private static string Key(SlackInteraction click, string? perClick) => $"slack:{click.TeamId}:{click.UserId}:{perClick ?? "none"}";

    private static string DecidedAlready(ApprovalState state) =>
        $"The request is already {ApprovalMachine.StatusName(state.Status)}{(state.DecidedBy.Count == 0 ? "" : " (decided by " + string.Join(", ", state.DecidedBy) + ")")}.";

    private static bool Same(string? a, string? b) => string.Equals(a?.Trim(), b?.Trim(), StringComparison.OrdinalIgnoreCase);

    [LoggerMessage(3710, LogLevel.Information, "Slack decision on approval {ApprovalId} by {Email}: now {Status} (repeated delivery: {Replayed})")]
    private partial void LogDecided(Guid approvalId, string email, string status, bool replayed);

    [LoggerMessage(3711, LogLevel.Warning, "Refused a Slack {Action} on approval {ApprovalId} by Slack user {UserId} ({Email}): {Reason}")]
    private partial void LogRefused(string userId, string email, Guid? approvalId, string action, string reason);

    [LoggerMessage(3712, LogLevel.Warning, "users.info for Slack user {UserId} failed: {Error}")]
    private partial void LogLookupFailed(string userId, string error);

    [LoggerMessage(3713, LogLevel.Warning, "Opening the deny dialog for approval {ApprovalId} failed: {Error}")]
    private partial void LogModalFailed(Guid approvalId, string error);

    [LoggerMessage(3714, LogLevel.Warning, "Answering a Slack click through its response_url failed: {Error}")]
    private partial void LogRespondFailed(string error);
}
