using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Activities;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Notifiers.Teams;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Teams;

/// <summary>
/// Answers the <c>adaptiveCard/action</c> invoke of a validated request. The clicker is identified by the email of
/// their conversation member record (looked up by <c>from.aadObjectId</c>); someone who is not an approver of the
/// approval's current group, or the agent's own owner approving, is refused (an error response, recorded in
/// teams_refusal). A decision is an engine signal keyed by the invoke's activity id, so a redelivered invoke gets the
/// first answer and racing approvers produce one decision. The response carries the new card for the clicker; the
/// cards everyone else sees are PUT at once (and again by the durable notify task).
/// </summary>
internal sealed partial class TeamsInvokes(
    WorkflowRuntime runtime, TeamsDirectory directory, TeamsStore store, TeamsNotifier notifier, LiveConfiguration config, ILogger<TeamsInvokes> logger)
{
    public const string InvokeName = "adaptiveCard/action";

    public async Task<JsonObject> HandleAsync(JsonElement activity, CancellationToken ct)
    {
        var action = Path(activity, "value", "action");
        var verb = Text(action, "verb");
        var data = action.ValueKind == JsonValueKind.Object && action.TryGetProperty("data", out var d) ? d : default;
        if (!Guid.TryParse(Text(data, "approvalId"), out var id))
        {
            return ApprovalAdaptiveCard.ErrorResponse(400, "BadRequest", "This card does not name an approval.");
        }

        var userId = Text(Path(activity, "from"), "id");
        var aadObjectId = Text(Path(activity, "from"), "aadObjectId");
        var conversationId = Text(Path(activity, "conversation"), "id");
        var serviceUrl = Text(activity, "serviceUrl");
        if (userId is null || conversationId is null || serviceUrl is null)
        {
            return ApprovalAdaptiveCard.ErrorResponse(400, "BadRequest", "The invoke names no user or conversation.");
        }

        var workflow = await runtime.GetAsync(id, ct);
        if (workflow is null)
        {
            return ApprovalAdaptiveCard.ErrorResponse(404, "NotFound", $"Approval {id} does not exist.");
        }

        var (email, failure) = await directory.EmailOfAsync(serviceUrl, conversationId, userId, aadObjectId, ct);
        if (failure is not null)
        {
            LogLookupFailed(userId, failure.Error ?? "unknown");
            return ApprovalAdaptiveCard.ErrorResponse(503, "IdentityUnavailable", "Teams could not tell us who you are just now; nothing was decided. Please try again.");
        }

        var state = workflow.State;
        var snapshot = config.Current.Config;
        var notice = NotifyActivity.ToNotice(state, workflow.Version);
        var isApprover = email is not null && state.CurrentStage.Approvers.Any(a => Same(a, email));
        if (verb == ApprovalAdaptiveCard.RefreshVerb)
        {
            // Refreshes come from the approvers' clients (refresh.userIds); anyone else just sees the facts.
            var canAct = isApprover && !state.Votes.Any(v => Same(v.Approver, email));
            return ApprovalAdaptiveCard.CardResponse(ApprovalAdaptiveCard.Build(notifier.Content(snapshot, notice), withActions: canAct));
        }

        if (verb is not (ApprovalAdaptiveCard.ApproveVerb or ApprovalAdaptiveCard.DenyVerb))
        {
            return ApprovalAdaptiveCard.ErrorResponse(400, "BadRequest", $"Unknown action {verb}.");
        }

        var approve = verb == ApprovalAdaptiveCard.ApproveVerb;
        var refusal = email is null ? "your Teams account has no email the gateway can read, so it cannot match you to an approver"
            : !isApprover ? $"{email} is not an approver of group {state.CurrentStage.Group}"
            : approve && Same(state.Request.AgentOwner, email) ? $"{email} owns agent {state.Request.AgentId} and may not approve its own request"
            : null;
        if (refusal is not null)
        {
            return await RefuseAsync(id, userId, aadObjectId, email, verb, refusal, ct);
        }

        var reason = Text(data, ApprovalAdaptiveCard.ReasonInput);
        var payload = !approve && !string.IsNullOrWhiteSpace(reason) ? JsonSerializer.SerializeToElement(new JsonObject { ["reason"] = reason.Trim() }) : (JsonElement?)null;
        var key = $"teams:{aadObjectId ?? userId}:{Text(activity, "id") ?? Guid.NewGuid().ToString("N")}";
        var outcome = await runtime.SignalAsync(id, new SignalRequest(approve ? SignalNames.Approve : SignalNames.Deny, key, email!, payload), ct);
        if (outcome.Error is SignalError.NotAuthorized or SignalError.SelfApproval)
        {
            return await RefuseAsync(id, userId, aadObjectId, email, verb, outcome.Message, ct);
        }

        if (outcome.Accepted)
        {
            LogDecided(id, email!, outcome.Status?.ToString() ?? "", outcome.Replayed);
        }

        var now = await runtime.GetAsync(id, ct) ?? workflow;
        var current = NotifyActivity.ToNotice(now.State, now.Version);

        // Everyone else's card: PUT now; the durable notify task does it again if this fails.
        var update = await notifier.NotifyAsync(current, ct);
        if (!update.Delivered)
        {
            LogUpdateFailed(id, update.Error ?? "unknown");
        }

        var note = outcome.Accepted ? $"Recorded: {outcome.Message}" : $"Nothing changed: {outcome.Message}";
        var stillActs = now.State.IsOpen && !now.State.Votes.Any(v => Same(v.Approver, email));
        return ApprovalAdaptiveCard.CardResponse(ApprovalAdaptiveCard.Build(notifier.Content(snapshot, current) with { Note = note }, withActions: stillActs));
    }

    private async Task<JsonObject> RefuseAsync(Guid id, string userId, string? aadObjectId, string? email, string verb, string reason, CancellationToken ct)
    {
        var action = verb == ApprovalAdaptiveCard.ApproveVerb ? "approve" : "deny";
        LogRefused(action, id, userId, email ?? "unknown", reason);
        await store.RecordRefusalAsync(new TeamsRefusal(id, userId, aadObjectId, email, action, reason), ct);
        return ApprovalAdaptiveCard.ErrorResponse(403, "NotAuthorized", $"You are not authorised to decide this request: {reason}.");
    }

    private static JsonElement Path(JsonElement element, params string[] names)
    {
        foreach (var name in names)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
            {
                return default;
            }
        }

        return element;
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool Same(string? a, string? b) => string.Equals(a?.Trim(), b?.Trim(), StringComparison.OrdinalIgnoreCase);

    [LoggerMessage(3810, LogLevel.Information, "Teams decision on approval {ApprovalId} by {Email}: now {Status} (repeated delivery: {Replayed})")]
    private partial void LogDecided(Guid approvalId, string email, string status, bool replayed);

    [LoggerMessage(3811, LogLevel.Warning, "Refused a Teams {Action} on approval {ApprovalId} by Teams user {UserId} ({Email}): {Reason}")]
    private partial void LogRefused(string action, Guid approvalId, string userId, string email, string reason);

    [LoggerMessage(3812, LogLevel.Warning, "Looking up Teams user {UserId} failed: {Error}")]
    private partial void LogLookupFailed(string userId, string error);

    [LoggerMessage(3813, LogLevel.Warning, "Updating the Teams cards of approval {ApprovalId} after a click failed (the notify task retries): {Error}")]
    private partial void LogUpdateFailed(Guid approvalId, string error);
}
