using System.Text.Json;

namespace ApprovalEngine.Notifiers;

/// <summary>
/// What a notifier shows about an approval at one moment: enough to render or update a card. Built by the notify
/// activity from the workflow state; notifiers never read the database.
/// </summary>
public sealed record ApprovalNotice
{
    public required Guid ApprovalId { get; init; }

    /// <summary>
    /// Grows with every change of the approval. Notices can arrive out of order (they run as concurrent tasks):
    /// a notifier must not replace a card showing a higher version with a lower one.
    /// </summary>
    public required int Version { get; init; }

    /// <summary>pending, escalated, approved, denied, expired, cancelled, executing, completed, failed, in_doubt.</summary>
    public required string Status { get; init; }

    public required string AgentId { get; init; }
    public string? AgentOwner { get; init; }
    public required string Bundle { get; init; }
    public required string Upstream { get; init; }
    public required string Tool { get; init; }
    public required JsonElement Arguments { get; init; }
    public required string ArgumentsDigest { get; init; }
    public string? Rule { get; init; }
    public string? Reason { get; init; }
    public required string ApproverGroup { get; init; }
    public required IReadOnlyList<string> Approvers { get; init; }
    public required int Quorum { get; init; }
    public required IReadOnlyList<string> Votes { get; init; }
    public required DateTimeOffset DeadlineAt { get; init; }
    public IReadOnlyList<string> DecidedBy { get; init; } = [];

    /// <summary>Short, human-readable outcome of the execution or the decision, when there is one.</summary>
    public string? Outcome { get; init; }
}

/// <summary>
/// A channel that shows approval cards (Slack, Teams, the web console). Called on every state change with the whole
/// current picture; it must be idempotent per (approval, status): called twice, it updates, never posts twice.
/// </summary>
public interface IApprovalNotifier
{
    string Name { get; }

    Task<NotificationResult> NotifyAsync(ApprovalNotice notice, CancellationToken cancellationToken);
}

public sealed record NotificationResult(bool Delivered, string? Error = null, bool Retryable = true)
{
    public static NotificationResult Ok { get; } = new(true);

    /// <summary>The channel asked us to wait (HTTP 429 <c>Retry-After</c>): the next attempt runs no sooner than this.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static NotificationResult Fail(string error, bool retryable = true) => new(false, error, retryable);

    public static NotificationResult Throttled(string error, TimeSpan retryAfter) => new(false, error, Retryable: true) { RetryAfter = retryAfter };
}
