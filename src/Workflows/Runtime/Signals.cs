using System.Text.Json;
using ApprovalEngine.Workflows.Approval;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>Signal names the approval workflow accepts.</summary>
public static class SignalNames
{
    public const string Approve = "approve";
    public const string Deny = "deny";
    public const string Cancel = "cancel";
}

/// <summary>
/// A decision sent to a workflow. The idempotency key makes retries safe: the same key returns the stored outcome.
/// Payloads: approve <c>{"comment", "editedArguments", "editedArgumentsDigest"}</c>; deny and cancel <c>{"reason"}</c>.
/// </summary>
public sealed record SignalRequest(string Name, string IdempotencyKey, string Actor, JsonElement? Payload = null);

/// <summary>Why a signal was not applied. Stable snake_case names on the wire.</summary>
public enum SignalError
{
    UnknownWorkflow,
    UnknownSignal,
    MalformedPayload,

    /// <summary>The idempotency key was already used for a different signal (name or actor).</summary>
    IdempotencyKeyReused,

    InvalidRequest,
    AlreadyDecided,
    DeadlinePassed,
    NotAuthorized,
    SelfApproval,
    AlreadyVoted,
    EditNotAllowed,
    EditConflict,
    IllegalTransition,
}

/// <summary>The answer to a signal. Stored with the idempotency key, so a duplicate gets the same answer back.</summary>
public sealed record SignalOutcome
{
    public required bool Accepted { get; init; }
    public SignalError? Error { get; init; }
    public required string Message { get; init; }

    /// <summary>The workflow's status right after this signal (null for an unknown workflow).</summary>
    public ApprovalStatus? Status { get; init; }

    /// <summary>Who decided the workflow, when it is decided: the loser of a race learns who won.</summary>
    public IReadOnlyList<string> DecidedBy { get; init; } = [];

    /// <summary>True when this is a stored outcome returned for a repeated idempotency key.</summary>
    public bool Replayed { get; init; }

    internal static SignalOutcome Refuse(SignalError error, string message, ApprovalState? state = null) => new()
    {
        Accepted = false,
        Error = error,
        Message = message,
        Status = state?.Status,
        DecidedBy = state?.DecidedBy ?? [],
    };
}

/// <summary>A workflow as stored: its state plus the bookkeeping the runtime keeps around it.</summary>
public sealed record WorkflowSnapshot(Guid Id, string BusinessKey, int Version, ApprovalState State, DateTimeOffset UpdatedAt);

/// <summary>The result of an idempotent start: the workflow, and whether this call created it.</summary>
public sealed record StartResult(WorkflowSnapshot Workflow, bool Created);

/// <summary>One stored history event. <paramref name="Body"/> is the exact JSON text that was hashed.</summary>
public sealed record HistoryEntry(Guid WorkflowId, int Seq, string Type, string Body, string Actor, DateTimeOffset RecordedAt, byte[] PrevHash, byte[] Hash);

/// <summary>
/// Filters for <see cref="WorkflowRuntime.QueryAsync"/>; all optional, combined with AND. Ordered by creation time,
/// oldest first unless <see cref="NewestFirst"/>.
/// </summary>
public sealed record WorkflowQuery
{
    public const int MaxLimit = 1000;

    public ApprovalStatus? Status { get; init; }

    /// <summary>Any of these statuses (with <see cref="Status"/>, both must match).</summary>
    public IReadOnlyList<ApprovalStatus>? Statuses { get; init; }

    public string? AgentId { get; init; }
    public string? Bundle { get; init; }
    public string? Tool { get; init; }

    /// <summary>Someone who voted or decided.</summary>
    public string? Approver { get; init; }

    /// <summary>An approver of any stage (ignoring case), or someone who voted or decided: whom the approval concerns.</summary>
    public string? Person { get; init; }

    public DateTimeOffset? CreatedFrom { get; init; }
    public DateTimeOffset? CreatedBefore { get; init; }

    /// <summary>Changed (created, signalled, advanced) at or after this database time.</summary>
    public DateTimeOffset? UpdatedFrom { get; init; }

    public bool NewestFirst { get; init; }

    /// <summary>1 to <see cref="MaxLimit"/>.</summary>
    public int Limit { get; init; } = 100;

    /// <summary>Opaque cursor from the previous page's <see cref="WorkflowPage.NextCursor"/> (of a query in the same order).</summary>
    public string? Cursor { get; init; }
}

/// <param name="AsOf">The database's time when the page was read: a later "changed since" query starts from it.</param>
public sealed record WorkflowPage(IReadOnlyList<WorkflowSnapshot> Items, string? NextCursor, DateTimeOffset AsOf = default);

/// <summary>A workflow's history with the result of recomputing its hash chain, read in one snapshot.</summary>
public sealed record VerifiedHistory(IReadOnlyList<HistoryEntry> Events, ChainVerification Chain);

/// <summary>The result of recomputing one workflow's hash chain.</summary>
public sealed record ChainVerification(Guid WorkflowId, bool Valid, int Events, int? FirstBadSeq, string? Problem);

/// <summary>Thrown for a workflow id that does not exist.</summary>
public sealed class WorkflowNotFoundException(Guid id) : Exception($"Workflow {id} does not exist.")
{
    public Guid WorkflowId { get; } = id;
}

/// <summary>Thrown when a start request is refused by the approval rules; the message names the bad field.</summary>
public sealed class InvalidWorkflowRequestException(string message) : Exception(message);
