using System.Text.Json;

namespace ApprovalEngine.Workflows.Approval;

/// <summary>Everything that can happen to an approval after it was requested.</summary>
public abstract record ApprovalInput;

/// <summary>An approver says yes, optionally with edited arguments (when the request allows it).</summary>
public sealed record Approve(string Approver, JsonElement? EditedArguments = null, string? EditedArgumentsDigest = null, string? Comment = null) : ApprovalInput;

public sealed record Deny(string Approver, string? Reason = null) : ApprovalInput;

/// <summary>The requester (or an admin) withdraws the request. The caller authorises the actor.</summary>
public sealed record Cancel(string Actor, string? Reason = null) : ApprovalInput;

/// <summary>The deadline timer of <paramref name="Stage"/> fired.</summary>
public sealed record DeadlineReached(int Stage) : ApprovalInput;

public sealed record ExecutionStarted(int Attempt) : ApprovalInput;

public sealed record ExecutionSucceeded(JsonElement Result) : ApprovalInput;

/// <summary>The upstream call definitely failed (it answered with an error, or never started).</summary>
public sealed record ExecutionFailed(string Error) : ApprovalInput;

/// <summary>The call may or may not have run (crash, timeout mid-call). Ends in_doubt.</summary>
public sealed record ExecutionOutcomeUnknown(string Reason) : ApprovalInput;
