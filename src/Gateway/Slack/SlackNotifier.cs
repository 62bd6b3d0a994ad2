using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Notifiers;
using ApprovalEngine.Notifiers.Slack;

namespace ApprovalEngine.Gateway.Slack;

/// <summary>
/// Shows approvals in Slack. Runs inside the durable notify task on every state change: under the approval's message
/// lock it updates every message it posted before (chat.update, when the message shows an older version) and posts
/// the card to destinations that have none yet — the channels of the current approver groups and, for groups with
/// <c>dm: true</c>, each approver's direct messages. A 429 stops the round and asks the task to retry after Slack's
/// <c>Retry-After</c>; what succeeded is saved, so the retry only does what is left.
/// </summary>
internal sealed partial class SlackNotifier(
    LiveConfiguration config, SlackClients clients, SlackStore store, SlackDirectory directory, IArgumentRedactor redactor, ILogger<SlackNotifier> logger)
    : IApprovalNotifier
{
    public const string DmPrefix = "dm:";

    public string Name => "slack";

    public async Task<NotificationResult> NotifyAsync(ApprovalNotice notice, CancellationToken cancellationToken)
    {
        var snapshot = config.Current.Config;
        if (snapshot.Slack is null)
        {
            return NotificationResult.Ok;
        }

        var targets = Targets(snapshot, notice);
        var message = ApprovalCard.Build(new ApprovalCardContent
        {
            Notice = notice,
            ToolName = notice.Upstream + snapshot.Server.ToolSeparator + notice.Tool,
            Arguments = CardArguments.Mask(notice.Arguments, redactor),
            ConsoleUrl = snapshot.Server.PublicUrl is null ? null : new Uri(GatedCalls.ConsoleLink(snapshot, notice.ApprovalId)),
        });

        var api = clients.Bot();
        var failures = new List<(string Target, SlackResult Result)>();
        await using var held = await store.LockAsync(notice.ApprovalId, cancellationToken);
        var shown = held.Messages.Select(m => m.Target).ToHashSet(StringComparer.Ordinal);

        // Existing messages first: everyone who already sees the card sees the change.
        foreach (var row in held.Messages.Where(m => m.Version < notice.Version))
        {
            var result = await api.UpdateMessageAsync(row.Channel, row.Ts, message, cancellationToken);
            if (result.Ok)
            {
                await held.SaveAsync(row with { Version = notice.Version }, cancellationToken);
            }
            else if (Record(failures, row.Target, result))
            {
                return Result(failures);
            }
        }

        foreach (var target in targets.Where(t => !shown.Contains(t)))
        {
            var (channel, lookup) = await ChannelOfAsync(target, cancellationToken);
            if (channel is null)
            {
                if (lookup is not null && Record(failures, target, lookup))
                {
                    return Result(failures);
                }

                continue;
            }

            var result = await api.PostMessageAsync(channel, message, cancellationToken);
            if (result.Ok && result.String("channel") is { } postedIn && result.String("ts") is { } ts)
            {
                await held.SaveAsync(new SlackMessageRow(target, postedIn, ts, notice.Version), cancellationToken);
                LogPosted(notice.ApprovalId, target);
            }
            else if (Record(failures, target, result.Ok ? result with { Ok = false, Error = "no channel or ts in the answer" } : result))
            {
                return Result(failures);
            }
        }

        return Result(failures);
    }

    /// <summary>Where the approval's current approver groups want cards: channel ids, and <c>dm:email</c> per approver.</summary>
    private static List<string> Targets(GatewayConfig config, ApprovalNotice notice)
    {
        var targets = new List<string>();
        foreach (var name in notice.ApproverGroup.Split('+'))
        {
            if (!config.Approvers.TryGetValue(name, out var group) || group.Slack is not { } delivery)
            {
                continue;
            }

            targets.AddRange(delivery.Channels);
            if (delivery.Dm)
            {
                // The approval's own approver list decides who may act; the group only says how to reach them.
                targets.AddRange(group.Members
                    .Where(m => notice.Approvers.Contains(m, StringComparer.OrdinalIgnoreCase))
                    .Select(m => DmPrefix + m.ToLowerInvariant()));
            }
        }

        return [.. targets.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>A channel id as configured, or the direct-message conversation with an approver.</summary>
    private async Task<(string? Channel, SlackResult? Failure)> ChannelOfAsync(string target, CancellationToken ct)
    {
        if (!target.StartsWith(DmPrefix, StringComparison.Ordinal))
        {
            return (target, null);
        }

        var email = target[DmPrefix.Length..];
        var (userId, failure) = await directory.UserIdOfAsync(email, ct);
        if (userId is null)
        {
            if (failure is null)
            {
                LogNoSlackUser(email);
            }

            return (null, failure);
        }

        var opened = await clients.Bot().OpenDirectMessageAsync(userId, ct);
        var channel = opened.Ok && opened.Body.TryGetProperty("channel", out var c) && c.TryGetProperty("id", out var id) ? id.GetString() : null;
        return channel is null ? (null, opened.Ok ? opened with { Ok = false, Error = "no channel in the answer" } : opened) : (channel, null);
    }

    /// <summary>Notes a failure; true when the round must stop (Slack said to slow down).</summary>
    private bool Record(List<(string Target, SlackResult Result)> failures, string target, SlackResult result)
    {
        failures.Add((target, result));
        LogCallFailed(target, result.Error ?? "unknown", result.Transient);
        return result.RetryAfter is not null;
    }

    private static NotificationResult Result(List<(string Target, SlackResult Result)> failures)
    {
        if (failures.Count == 0)
        {
            return NotificationResult.Ok;
        }

        var error = string.Join("; ", failures.Select(f => $"{f.Target}: {f.Result.Error}"));
        if (failures.Select(f => f.Result.RetryAfter).Max() is { } wait)
        {
            return NotificationResult.Throttled(error, wait);
        }

        // Errors in what we sent (an unknown channel, a missing scope) do not heal by retrying; transient ones may.
        return NotificationResult.Fail(error, retryable: failures.Any(f => f.Result.Transient));
    }

    [LoggerMessage(3700, LogLevel.Information, "Posted the Slack card of approval {ApprovalId} to {Target}")]
    private partial void LogPosted(Guid approvalId, string target);

    [LoggerMessage(3701, LogLevel.Warning, "Slack call for {Target} failed: {Error} (transient: {Transient})")]
    private partial void LogCallFailed(string target, string error, bool transient);

    [LoggerMessage(3702, LogLevel.Warning, "No Slack user has the email {Email}; that approver gets no direct message")]
    private partial void LogNoSlackUser(string email);
}
