using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Notifiers;
using ApprovalEngine.Notifiers.Teams;

namespace ApprovalEngine.Gateway.Teams;

/// <summary>
/// Shows approvals in Teams. Runs inside the durable notify task on every state change (and once more, at once, after
/// a click): under the approval's message lock it PUTs every card it posted before that shows an older version, then
/// POSTs the card into the channels and personal chats of the current approver groups that have none yet. Throttling
/// (429), conflicting writes (412) and gateway errors (502, 504) are retryable failures: the runtime retries the task
/// with jittered backoff, and what succeeded is saved, so the retry only does what is left.
/// </summary>
internal sealed partial class TeamsNotifier(
    LiveConfiguration config, TeamsClients clients, TeamsStore store, TeamsDirectory directory, IArgumentRedactor redactor, ILogger<TeamsNotifier> logger)
    : IApprovalNotifier
{
    public const string ChannelPrefix = "channel:";
    public const string UserPrefix = "user:";

    public string Name => "teams";

    public async Task<NotificationResult> NotifyAsync(ApprovalNotice notice, CancellationToken cancellationToken)
    {
        var snapshot = config.Current.Config;
        if (snapshot.Teams is not { } teams)
        {
            return NotificationResult.Ok;
        }

        var connector = clients.Connector();
        var failures = new List<(string Target, ConnectorResult Result)>();
        await using var held = await store.LockAsync(notice.ApprovalId, cancellationToken);

        // Existing cards first: everyone who already sees the card sees the change.
        foreach (var row in held.Messages.Where(m => m.Version < notice.Version))
        {
            var card = await CardAsync(snapshot, notice, row.ServiceUrl, row.ConversationId, cancellationToken);
            var result = await connector.UpdateAsync(row.ServiceUrl, row.ConversationId, row.ActivityId, card, cancellationToken);
            if (result.Ok)
            {
                await held.SaveAsync(row with { Version = notice.Version }, cancellationToken);
            }
            else
            {
                Record(failures, row.Target, result);
            }
        }

        var shown = held.Messages.Select(m => m.Target).ToHashSet(StringComparer.Ordinal);
        foreach (var (target, conversation) in await TargetsAsync(snapshot, notice, cancellationToken))
        {
            if (shown.Contains(target) || !teams.AllowsServiceUrl(conversation.ServiceUrl))
            {
                continue;
            }

            var card = await CardAsync(snapshot, notice, conversation.ServiceUrl, conversation.ConversationId, cancellationToken);
            var result = await connector.SendAsync(conversation.ServiceUrl, conversation.ConversationId, card, cancellationToken);
            if (result.Ok && result.String("id") is { } activityId)
            {
                await held.SaveAsync(new TeamsMessageRow(target, conversation.ServiceUrl, conversation.ConversationId, activityId, notice.Version), cancellationToken);
                LogPosted(notice.ApprovalId, target);
            }
            else
            {
                Record(failures, target, result.Ok ? result with { Status = 0, Error = "no activity id in the answer" } : result);
            }
        }

        if (failures.Count == 0)
        {
            return NotificationResult.Ok;
        }

        // Errors in what we sent (a conversation the bot left, a card too big) do not heal by retrying; transient ones may.
        return NotificationResult.Fail(
            string.Join("; ", failures.Select(f => $"{f.Target}: {f.Result.Error}")),
            retryable: failures.Any(f => f.Result.Transient));
    }

    /// <summary>The card as everyone sees it: facts, and a refresh that gets the approvers (only) their buttons.</summary>
    public async Task<System.Text.Json.Nodes.JsonObject> CardAsync(
        GatewayConfig snapshot, ApprovalNotice notice, string serviceUrl, string conversationId, CancellationToken ct)
    {
        var approverIds = ApprovalAdaptiveCard.IsOpen(notice.Status)
            ? await directory.UserIdsOfAsync(serviceUrl, conversationId, notice.Approvers, ct)
            : [];
        var content = Content(snapshot, notice) with { ApproverUserIds = approverIds };
        return ApprovalAdaptiveCard.Message(ApprovalAdaptiveCard.Build(content, withActions: false), ApprovalAdaptiveCard.Summary(notice, content.ToolName));
    }

    public TeamsCardContent Content(GatewayConfig snapshot, ApprovalNotice notice) => new()
    {
        Notice = notice,
        ToolName = notice.Upstream + snapshot.Server.ToolSeparator + notice.Tool,
        Arguments = redactor.Redact(notice.Arguments),
        ConsoleUrl = snapshot.Server.PublicUrl is null ? null : new Uri(GatedCalls.ConsoleLink(snapshot, notice.ApprovalId)),
    };

    /// <summary>Where the approval's current approver groups want cards, resolved to stored conversation references.</summary>
    private async Task<List<(string Target, TeamsConversation Conversation)>> TargetsAsync(GatewayConfig config, ApprovalNotice notice, CancellationToken ct)
    {
        var groups = notice.ApproverGroup.Split('+').Select(name => config.Approvers.GetValueOrDefault(name)?.Teams).OfType<TeamsDelivery>().ToList();
        if (groups.Count == 0)
        {
            return [];
        }

        var conversations = await store.ConversationsAsync(ct);
        var targets = new List<(string, TeamsConversation)>();
        foreach (var channel in groups.SelectMany(g => g.Channels).Distinct(StringComparer.Ordinal))
        {
            if (conversations.FirstOrDefault(c => IsChannel(c, channel)) is { } found)
            {
                targets.Add((ChannelPrefix + found.ConversationId, found));
            }
            else
            {
                LogNotInstalled(channel);
            }
        }

        // The approval's own approver list decides who may act; the group only says how to reach them.
        foreach (var email in groups.SelectMany(g => g.Users).Where(u => notice.Approvers.Contains(u, StringComparer.OrdinalIgnoreCase)).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (conversations.FirstOrDefault(c => c.ConversationType == "personal" && string.Equals(c.UserEmail, email, StringComparison.OrdinalIgnoreCase)) is { } found)
            {
                targets.Add((UserPrefix + email.ToLowerInvariant(), found));
            }
            else
            {
                LogNotInstalled(email);
            }
        }

        return targets;
    }

    private static bool IsChannel(TeamsConversation c, string configured) =>
        c.ConversationType == "channel"
        && (string.Equals(c.ChannelId ?? c.ConversationId, configured, StringComparison.Ordinal)
            || string.Equals($"{c.TeamName}/{c.ChannelName ?? "General"}", configured, StringComparison.OrdinalIgnoreCase));

    private void Record(List<(string Target, ConnectorResult Result)> failures, string target, ConnectorResult result)
    {
        failures.Add((target, result));
        LogCallFailed(target, result.Error ?? "unknown", result.Transient);
    }

    [LoggerMessage(3800, LogLevel.Information, "Posted the Teams card of approval {ApprovalId} to {Target}")]
    private partial void LogPosted(Guid approvalId, string target);

    [LoggerMessage(3801, LogLevel.Warning, "Bot Connector call for {Target} failed: {Error} (transient: {Transient})")]
    private partial void LogCallFailed(string target, string error, bool transient);

    [LoggerMessage(3802, LogLevel.Warning, "The Teams bot is not installed where {Destination} is (no conversationUpdate seen); that destination gets no card")]
    private partial void LogNotInstalled(string destination);
}
