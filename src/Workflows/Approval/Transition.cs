using System.Text.Json.Nodes;

namespace ApprovalEngine.Workflows.Approval;

/// <summary>Why an input was refused. Stable names: they reach API clients and audit rows.</summary>
public enum RejectionCode
{
    /// <summary>The request itself is malformed (quorum, approvers, timeout, digests).</summary>
    InvalidRequest,

    /// <summary>A final decision was already made; the message names who made it.</summary>
    AlreadyDecided,

    DeadlinePassed,
    NotAuthorized,
    SelfApproval,
    AlreadyVoted,
    EditNotAllowed,

    /// <summary>Votes of a quorum must all approve the same argument digest.</summary>
    EditConflict,

    /// <summary>The input makes no sense in this state (for example execution events before approval).</summary>
    IllegalTransition,
}

/// <summary>One entry to append to the workflow's history.</summary>
public sealed record HistoryEvent(string Type, JsonObject Body, string? Actor);

/// <summary>A follow-up the runtime must persist in the same transaction (outbox).</summary>
public abstract record TaskCommand;

/// <summary>
/// Schedule a task of <paramref name="Kind"/> at <paramref name="RunAt"/>.
/// <paramref name="DedupKey"/> is unique per workflow: scheduling the same key twice is a no-op.
/// </summary>
public sealed record ScheduleTask(string Kind, DateTimeOffset RunAt, string DedupKey, bool AtMostOnce, JsonObject? Args = null) : TaskCommand;

/// <summary>Cancel every not-yet-running task of <paramref name="Kind"/> for this workflow.</summary>
public sealed record CancelTasks(string Kind) : TaskCommand;

/// <summary>The outcome of applying an input: accepted (new state, events, tasks), ignored (no change), or rejected.</summary>
public sealed record Transition
{
    public required TransitionOutcome Outcome { get; init; }

    /// <summary>The new state when accepted; the unchanged state otherwise (null only when a start is rejected).</summary>
    public ApprovalState? State { get; init; }

    public IReadOnlyList<HistoryEvent> Events { get; init; } = [];
    public IReadOnlyList<TaskCommand> Tasks { get; init; } = [];
    public RejectionCode? Code { get; init; }
    public string? Message { get; init; }

    public bool Accepted => Outcome == TransitionOutcome.Accepted;

    public static Transition Accept(ApprovalState state, IReadOnlyList<HistoryEvent> events, IReadOnlyList<TaskCommand> tasks) =>
        new() { Outcome = TransitionOutcome.Accepted, State = state, Events = events, Tasks = tasks };

    /// <summary>Nothing to do (for example a timer that fired after the decision). Not an error.</summary>
    public static Transition Ignore(ApprovalState state, string message) =>
        new() { Outcome = TransitionOutcome.Ignored, State = state, Message = message };

    public static Transition Reject(ApprovalState? state, RejectionCode code, string message) =>
        new() { Outcome = TransitionOutcome.Rejected, State = state, Code = code, Message = message };
}

public enum TransitionOutcome
{
    Accepted,
    Ignored,
    Rejected,
}

/// <summary>Task kinds the approval workflow schedules.</summary>
public static class TaskKinds
{
    /// <summary>Timer: the current stage's deadline.</summary>
    public const string Deadline = "deadline";

    /// <summary>Activity: run the upstream tool call.</summary>
    public const string Execute = "execute";

    /// <summary>Activity: post or update approval cards.</summary>
    public const string Notify = "notify";
}
