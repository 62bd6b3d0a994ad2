using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Workflows.Approval;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>One approval as the people's API shows it (see the README's "People's HTTP API").</summary>
public sealed record ApprovalView
{
    public required Guid Id { get; init; }

    /// <summary>pending, escalated, approved, denied, expired, cancelled, executing, completed, failed or in_doubt.</summary>
    public required string Status { get; init; }

    /// <summary>Still waiting for a decision (pending or escalated).</summary>
    public required bool Open { get; init; }

    public required string AgentId { get; init; }

    public required string? AgentOwner { get; init; }

    public required string Bundle { get; init; }

    public required string Upstream { get; init; }

    /// <summary>The tool's name on its upstream.</summary>
    public required string Tool { get; init; }

    /// <summary>The gated call's arguments, as recorded.</summary>
    public required JsonElement Arguments { get; init; }

    public required string ArgumentsDigest { get; init; }

    public required string? Rule { get; init; }

    /// <summary>Why policy asked for an approval (the rule's reason).</summary>
    public required string? PolicyReason { get; init; }

    /// <summary>The current stage's approver group(s), joined with '+'.</summary>
    public required string ApproverGroup { get; init; }

    /// <summary>The current stage's approvers.</summary>
    public required IReadOnlyList<string> Approvers { get; init; }

    public required int Quorum { get; init; }

    /// <summary>0: the request's approvers; 1: the escalation stage.</summary>
    public required int Stage { get; init; }

    public required bool AllowEdits { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the current stage ends (escalates or expires).</summary>
    public required DateTimeOffset DeadlineAt { get; init; }

    public required IReadOnlyList<VoteView> Votes { get; init; }

    public required JsonElement? EditedArguments { get; init; }

    public required string? EditedArgumentsDigest { get; init; }

    public required IReadOnlyList<string> DecidedBy { get; init; }

    public required DateTimeOffset? DecidedAt { get; init; }

    /// <summary>Deny or withdraw reason, or why it expired, failed or is in doubt.</summary>
    public required string? Reason { get; init; }

    /// <summary>The tool's result once it ran.</summary>
    public required JsonElement? Result { get; init; }

    public required string? Error { get; init; }

    /// <summary>The caller may approve or deny it now: an approver of the current stage who has not voted and does not own the agent, while it is open.</summary>
    public required bool YouMayDecide { get; init; }

    /// <summary>The approval's page in the web console; null when the configuration has no <c>server.publicUrl</c>.</summary>
    public required string? Console { get; init; }

    public static ApprovalView From(ApprovalState state, Human viewer, GatewayConfig config)
    {
        var request = state.Request;
        var stage = state.CurrentStage;
        return new ApprovalView
        {
            Id = state.Id,
            Status = ApprovalMachine.StatusName(state.Status),
            Open = state.IsOpen,
            AgentId = request.AgentId,
            AgentOwner = request.AgentOwner,
            Bundle = request.Bundle,
            Upstream = request.Upstream,
            Tool = request.Tool,
            Arguments = request.Arguments,
            ArgumentsDigest = request.ArgumentsDigest,
            Rule = request.Rule,
            PolicyReason = request.Reason,
            ApproverGroup = stage.Group,
            Approvers = stage.Approvers,
            Quorum = request.Quorum,
            Stage = state.Stage,
            AllowEdits = request.AllowEditedArguments,
            CreatedAt = state.CreatedAt,
            DeadlineAt = state.DeadlineAt,
            Votes = [.. state.Votes.Select(v => new VoteView(v.Approver, v.At, v.ArgumentsDigest, v.Comment))],
            EditedArguments = state.EditedArguments,
            EditedArgumentsDigest = state.EditedArgumentsDigest,
            DecidedBy = state.DecidedBy,
            DecidedAt = state.DecidedAt,
            Reason = state.Reason,
            Result = state.Result,
            Error = state.Error,
            YouMayDecide = ApprovalAccess.MayDecide(viewer, state),
            Console = config.Server.PublicUrl is null ? null : GatedCalls.ConsoleLink(config, state.Id),
        };
    }
}

public sealed record VoteView(string Approver, DateTimeOffset At, string ArgumentsDigest, string? Comment);

/// <summary>A page of approvals; <see cref="NextCursor"/> is null on the last page.</summary>
public sealed record ApprovalPage(IReadOnlyList<ApprovalView> Items, string? NextCursor);

/// <summary>Who may see and decide which approval. Emails are compared ignoring case.</summary>
public static class ApprovalAccess
{
    /// <summary>Auditors and admins see every approval.</summary>
    public static bool SeesAll(Human human) => human.Has(Role.Auditor) || human.Has(Role.Admin);

    /// <summary>An approver of any stage (the request's or the escalation's).</summary>
    public static bool IsApprover(ApprovalState state, string email) =>
        Contains(state.Request.Approvers.Approvers, email) || Contains(state.Request.EscalateTo?.Approvers ?? [], email);

    /// <summary>Voted, or made the final decision.</summary>
    public static bool IsDecider(ApprovalState state, string email) =>
        state.Votes.Any(v => Same(v.Approver, email)) || Contains(state.DecidedBy, email);

    public static bool MaySee(Human human, ApprovalState state) =>
        SeesAll(human) || IsApprover(state, human.Email) || IsDecider(state, human.Email);

    public static bool MayDecide(Human human, ApprovalState state) =>
        human.Has(Role.Approver)
        && state.IsOpen
        && Contains(state.CurrentStage.Approvers, human.Email)
        && !state.Votes.Any(v => Same(v.Approver, human.Email))
        && !(state.Request.AgentOwner is { } owner && Same(owner, human.Email));

    /// <summary>The refusal's detail for someone who may not see the approval.</summary>
    public static string NotAnApprover(Human human, Guid id) => $"{human.Email} is not an approver of approval {id}.";

    private static bool Contains(IEnumerable<string> emails, string email) => emails.Any(e => Same(e, email));

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
}
