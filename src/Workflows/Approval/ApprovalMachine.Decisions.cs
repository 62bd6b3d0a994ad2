using System.Globalization;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Workflows.Approval;

/// <summary>Human decisions (approve, deny, cancel) and the deadline timer.</summary>
public static partial class ApprovalMachine
{
    private static Transition ApplyApprove(ApprovalState state, Approve input, DateTimeOffset now)
    {
        if (RefuseDecision(state, now) is { } refused)
        {
            return refused;
        }

        var request = state.Request;
        var approver = FindApprover(state.CurrentStage, input.Approver);
        if (approver is null)
        {
            return NotAuthorized(state, input.Approver);
        }

        if (SameIdentity(approver, request.AgentOwner))
        {
            return Transition.Reject(state, RejectionCode.SelfApproval,
                $"{approver} owns agent '{request.AgentId}' and may not approve its own request.");
        }

        if (state.Votes.Any(v => SameIdentity(v.Approver, approver)))
        {
            return Transition.Reject(state, RejectionCode.AlreadyVoted, $"{approver} has already voted to approve this request.");
        }

        var hasEdit = input.EditedArguments is not null || input.EditedArgumentsDigest is not null;
        if (hasEdit && !request.AllowEditedArguments)
        {
            return Transition.Reject(state, RejectionCode.EditNotAllowed,
                $"Tool '{request.Tool}' of bundle '{request.Bundle}' does not allow approvers to edit its arguments.");
        }

        if (hasEdit && (input.EditedArguments is null || string.IsNullOrWhiteSpace(input.EditedArgumentsDigest)))
        {
            return Transition.Reject(state, RejectionCode.InvalidRequest,
                "Edited arguments and their digest must be given together.");
        }

        var voteDigest = input.EditedArgumentsDigest ?? request.ArgumentsDigest;

        // The quorum approves one concrete call; votes for different arguments must not add up.
        var conflicting = state.Votes.FirstOrDefault(v => !string.Equals(v.ArgumentsDigest, voteDigest, StringComparison.Ordinal));
        if (conflicting is not null)
        {
            return Transition.Reject(state, RejectionCode.EditConflict,
                $"{approver} approves arguments {voteDigest}, but {conflicting.Approver} approved arguments {conflicting.ArgumentsDigest}; all votes must approve the same arguments.");
        }

        var votes = state.Votes.Append(new ApprovalVote { Approver = approver, At = now, ArgumentsDigest = voteDigest, Comment = input.Comment }).ToList();
        var next = state with { Votes = votes };
        if (!string.Equals(voteDigest, request.ArgumentsDigest, StringComparison.Ordinal))
        {
            next = next with { EditedArguments = input.EditedArguments, EditedArgumentsDigest = voteDigest };
        }

        var voteBody = new JsonObject
        {
            ["approver"] = approver,
            ["votes"] = votes.Count,
            ["quorum"] = request.Quorum,
            ["argumentsDigest"] = voteDigest,
            ["comment"] = input.Comment,
        };
        var voteEvent = new HistoryEvent("vote_recorded", voteBody, approver);

        if (votes.Count < request.Quorum)
        {
            return Transition.Accept(next, [voteEvent], [.. NotifyTasks(next, now)]);
        }

        next = next with
        {
            Status = ApprovalStatus.Approved,
            DecidedBy = [.. votes.Select(v => v.Approver)],
            DecidedAt = now,
        };
        var approvedBody = new JsonObject
        {
            ["approvers"] = ToJsonArray(next.DecidedBy),
            ["argumentsDigest"] = voteDigest,
            ["edited"] = next.EditedArgumentsDigest is not null,
            ["originalArgumentsDigest"] = request.ArgumentsDigest,
        };
        return Transition.Accept(
            next,
            [voteEvent, new HistoryEvent("approved", approvedBody, approver)],
            [
                new CancelTasks(TaskKinds.Deadline),
                new ScheduleTask(TaskKinds.Execute, now, "execute", AtMostOnce: !request.ToolIdempotent),
                .. NotifyTasks(next, now),
            ]);
    }

    private static Transition ApplyDeny(ApprovalState state, Deny input, DateTimeOffset now)
    {
        if (RefuseDecision(state, now) is { } refused)
        {
            return refused;
        }

        // No self-approval check: refusing one's own agent is always the safe direction.
        var approver = FindApprover(state.CurrentStage, input.Approver);
        if (approver is null)
        {
            return NotAuthorized(state, input.Approver);
        }

        var next = state with
        {
            Status = ApprovalStatus.Denied,
            DecidedBy = [approver],
            DecidedAt = now,
            Reason = input.Reason,
        };
        var body = new JsonObject
        {
            ["approver"] = approver,
            ["group"] = state.CurrentStage.Group,
            ["reason"] = input.Reason,
        };
        return Transition.Accept(next, [new HistoryEvent("denied", body, approver)], [new CancelTasks(TaskKinds.Deadline), .. NotifyTasks(next, now)]);
    }

    private static Transition ApplyCancel(ApprovalState state, Cancel input, DateTimeOffset now)
    {
        if (RefuseDecision(state, now) is { } refused)
        {
            return refused;
        }

        if (string.IsNullOrWhiteSpace(input.Actor))
        {
            return Transition.Reject(state, RejectionCode.InvalidRequest, "A cancellation must name the actor who withdraws the request.");
        }

        var actor = input.Actor.Trim();
        var next = state with
        {
            Status = ApprovalStatus.Cancelled,
            DecidedBy = [actor],
            DecidedAt = now,
            Reason = input.Reason,
        };
        var body = new JsonObject { ["actor"] = actor, ["reason"] = input.Reason };
        return Transition.Accept(next, [new HistoryEvent("cancelled", body, actor)], [new CancelTasks(TaskKinds.Deadline), .. NotifyTasks(next, now)]);
    }

    private static Transition ApplyDeadline(ApprovalState state, DeadlineReached input, DateTimeOffset now)
    {
        // Timers are at-least-once and race with decisions; every stale or early firing is harmless.
        if (!state.IsOpen)
        {
            return Transition.Ignore(state, $"The deadline no longer matters: the request is {StatusName(state.Status)}.");
        }

        if (input.Stage != state.Stage)
        {
            return Transition.Ignore(state, string.Create(CultureInfo.InvariantCulture,
                $"The deadline of stage {input.Stage} no longer matters: the request is at stage {state.Stage}."));
        }

        if (now < state.DeadlineAt)
        {
            return Transition.Ignore(state, $"The deadline {FormatTime(state.DeadlineAt)} has not been reached yet.");
        }

        var request = state.Request;
        if (state.Stage == 0 && request.EscalateTo is { } escalation)
        {
            var next = state with
            {
                Status = ApprovalStatus.Escalated,
                Stage = 1,
                DeadlineAt = now + escalation.Timeout,

                // Escalation hands the decision to a new group; earlier votes and edits belonged to the old one.
                Votes = [],
                EditedArguments = null,
                EditedArgumentsDigest = null,
            };
            var body = new JsonObject
            {
                ["fromGroup"] = request.Approvers.Group,
                ["toGroup"] = escalation.Group,
                ["approvers"] = ToJsonArray(escalation.Approvers.Select(a => a.Trim())),
                ["deadlineAt"] = next.DeadlineAt,
                ["discardedVotes"] = state.Votes.Count,
            };
            return Transition.Accept(next, [new HistoryEvent("escalated", body, SystemActor)], [DeadlineTask(next), .. NotifyTasks(next, now)]);
        }

        var expired = state with
        {
            Status = ApprovalStatus.Expired,
            DecidedBy = [SystemActor],
            DecidedAt = now,
            Reason = $"expired: no decision by {FormatTime(state.DeadlineAt)}",
        };
        var expiredBody = new JsonObject
        {
            ["group"] = state.CurrentStage.Group,
            ["stage"] = state.Stage,
            ["deadlineAt"] = state.DeadlineAt,
            ["votes"] = state.Votes.Count,
            ["quorum"] = request.Quorum,
        };
        return Transition.Accept(expired, [new HistoryEvent("expired", expiredBody, SystemActor)], [.. NotifyTasks(expired, now)]);
    }

    /// <summary>The checks every decision shares: the first final decision wins, and the deadline is the database clock's.</summary>
    private static Transition? RefuseDecision(ApprovalState state, DateTimeOffset now)
    {
        if (!state.IsOpen)
        {
            return Transition.Reject(state, RejectionCode.AlreadyDecided, AlreadyDecidedMessage(state));
        }

        // The timer may not have fired yet; the clock, not the timer, closes the request.
        if (now >= state.DeadlineAt)
        {
            return Transition.Reject(state, RejectionCode.DeadlinePassed,
                $"The deadline {FormatTime(state.DeadlineAt)} passed; the request no longer accepts decisions.");
        }

        return null;
    }

    private static string AlreadyDecidedMessage(ApprovalState state)
    {
        var who = string.Join(", ", state.DecidedBy);
        var reason = string.IsNullOrWhiteSpace(state.Reason) ? "" : $" ({state.Reason})";
        return state.Status switch
        {
            ApprovalStatus.Denied => $"The request was already denied by {who}{reason}.",
            ApprovalStatus.Expired => $"The request already expired: no decision by {FormatTime(state.DeadlineAt)}.",
            ApprovalStatus.Cancelled => $"The request was already cancelled by {who}{reason}.",
            ApprovalStatus.Approved => $"The request was already approved by {who}.",
            _ => $"The request was already approved by {who} (now {StatusName(state.Status)}).",
        };
    }

    /// <summary>Returns the stage's own spelling of the identity, so records do not depend on how a client typed it.</summary>
    private static string? FindApprover(ApproverStage stage, string? identity)
    {
        if (string.IsNullOrWhiteSpace(identity))
        {
            return null;
        }

        return stage.Approvers.FirstOrDefault(a => SameIdentity(a, identity))?.Trim();
    }

    private static Transition NotAuthorized(ApprovalState state, string? identity) =>
        Transition.Reject(state, RejectionCode.NotAuthorized,
            $"'{identity?.Trim()}' is not an approver of group '{state.CurrentStage.Group}'.");
}
