using ApprovalEngine.Notifiers;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Activities;

/// <summary>
/// The <c>notify</c> kind: show the approval's current state on every configured channel. Retried with backoff;
/// notifiers are idempotent per state, so a retry after a partial failure only repeats updates.
/// </summary>
public sealed partial class NotifyActivity(IEnumerable<IApprovalNotifier> notifiers, ILogger<NotifyActivity> logger) : IActivity
{
    private readonly IApprovalNotifier[] _notifiers = [.. notifiers];

    public string Kind => TaskKinds.Notify;

    public ActivityOptions Options { get; } = new() { MaxAttempts = 10, BaseDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromMinutes(2) };

    public async Task<ActivityResult> RunAsync(ActivityContext context, CancellationToken cancellationToken)
    {
        var notice = ToNotice(context.Workflow, context.WorkflowVersion);
        var results = await Task.WhenAll(_notifiers.Select(n => n.NotifyAsync(notice, cancellationToken)));
        var failures = _notifiers.Zip(results).Where(p => !p.Second.Delivered).ToList();
        foreach (var (notifier, result) in failures)
        {
            LogNotifyFailed(notifier.Name, context.WorkflowId, result.Error ?? "unknown error");
        }

        if (failures.Count == 0)
        {
            return ActivityResult.Success();
        }

        var error = string.Join("; ", failures.Select(f => $"{f.First.Name}: {f.Second.Error}"));
        var retryable = failures.Any(f => f.Second.Retryable);

        // Every channel is retried together, so the one that asked to wait longest decides when.
        var wait = failures.Where(f => f.Second.Retryable).Max(f => f.Second.RetryAfter);
        return retryable && wait is { } after ? ActivityResult.RetryLater(error, after) : ActivityResult.Failure(error, retryable);
    }

    public static ApprovalNotice ToNotice(ApprovalState state, int version) => new()
    {
        ApprovalId = state.Id,
        Version = version,
        Status = ApprovalMachine.StatusName(state.Status),
        AgentId = state.Request.AgentId,
        AgentOwner = state.Request.AgentOwner,
        Bundle = state.Request.Bundle,
        Upstream = state.Request.Upstream,
        Tool = state.Request.Tool,
        Arguments = state.EffectiveArguments,
        ArgumentsDigest = state.EditedArgumentsDigest ?? state.Request.ArgumentsDigest,
        Rule = state.Request.Rule,
        Reason = state.Request.Reason,
        ApproverGroup = state.CurrentStage.Group,
        Approvers = state.CurrentStage.Approvers,
        Quorum = state.Request.Quorum,
        Votes = [.. state.Votes.Select(v => v.Approver)],
        DeadlineAt = state.DeadlineAt,
        DecidedBy = state.DecidedBy,
        Outcome = state.Status switch
        {
            ApprovalStatus.Completed => "The call ran and returned its result.",
            ApprovalStatus.Failed => $"The call failed: {state.Error}",
            ApprovalStatus.InDoubt => $"The call may or may not have run: {state.Reason}",
            ApprovalStatus.Denied or ApprovalStatus.Cancelled or ApprovalStatus.Expired => state.Reason,
            _ => null,
        },
    };

    [LoggerMessage(2000, LogLevel.Warning, "Notifier {Notifier} failed for approval {ApprovalId}: {Error}")]
    private partial void LogNotifyFailed(string notifier, Guid approvalId, string error);
}
