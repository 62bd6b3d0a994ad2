namespace ApprovalEngine.Gateway.Audit;

/// <summary>
/// One tool call as the gateway handled it: who called what, with which arguments (digest and redacted copy), what
/// policy decided and what came of it. Written once by <see cref="IToolCallAudit"/>, never changed.
/// </summary>
public sealed record ToolCallRecord
{
    public required string AgentId { get; init; }

    public required string Bundle { get; init; }

    public required string Upstream { get; init; }

    /// <summary>The tool's name on its upstream.</summary>
    public required string Tool { get; init; }

    /// <summary>The name the agent called, as the gateway lists it (namespaced, e.g. <c>github__create_issue</c>).</summary>
    public required string ToolName { get; init; }

    /// <summary><see cref="ArgumentDigest.Compute(System.Text.Json.JsonElement?)"/> of the arguments as the agent sent them.</summary>
    public required string ArgumentsDigest { get; init; }

    /// <summary>The arguments as JSON text after <see cref="IArgumentRedactor"/>; never the raw arguments.</summary>
    public required string RedactedArguments { get; init; }

    /// <summary>What policy decided; see <see cref="ToolCallDecision"/> for the usual values (the set is open).</summary>
    public required string Decision { get; init; }

    /// <summary>The policy rule that decided, when one did.</summary>
    public string? Rule { get; init; }

    /// <summary>
    /// What a policy rule in detect-only (shadow) mode would have decided; the call went ahead under <see cref="Decision"/>.
    /// Null when no shadow rule matched.
    /// </summary>
    public string? ShadowDecision { get; init; }

    /// <summary>The shadow rule behind <see cref="ShadowDecision"/> (<c>default</c> when it was the policy's default).</summary>
    public string? ShadowRule { get; init; }

    /// <summary>
    /// The approval workflow a gated call started or joined, or the earlier approval whose <c>remember</c> grant let the
    /// call through (decision <see cref="ToolCallDecision.Grant"/>); null for calls that were not gated.
    /// </summary>
    public Guid? ApprovalId { get; init; }

    /// <summary>When an approver edited the arguments: the digest of the arguments that ran. Null otherwise.</summary>
    public string? ExecutedArgumentsDigest { get; init; }

    /// <summary>What came of the call; see <see cref="ToolCallOutcome"/> for the usual values (the set is open).</summary>
    public required string Outcome { get; init; }

    /// <summary>From the start of the call to its answer. Stored in microseconds.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Why the call failed, safe to show (never a secret, never raw arguments); null when it did not fail.</summary>
    public string? Error { get; init; }

    /// <summary>The agent's MCP session (<c>Mcp-Session-Id</c>); null for stateless requests.</summary>
    public string? SessionId { get; init; }

    /// <summary>The JSON-RPC request id as text (a string id or a number).</summary>
    public string? RequestId { get; init; }

    /// <summary>When the call started. Stored in microseconds (what timestamptz keeps).</summary>
    public required DateTimeOffset StartedAt { get; init; }
}

/// <summary>Well-known <see cref="ToolCallRecord.Decision"/> values. Policy may add more; the audit stores any.</summary>
public static class ToolCallDecision
{
    public const string Allow = "allow";
    public const string Deny = "deny";
    public const string Approve = "approve";
    public const string RateLimit = "rate_limit";

    /// <summary>An earlier approval's <c>remember</c> grant covered the call, so it ran without a new approval.</summary>
    public const string Grant = "grant";

    /// <summary>No policy decision was reached (bad request, unknown tool, internal failure).</summary>
    public const string Error = "error";
}

/// <summary>Well-known <see cref="ToolCallRecord.Outcome"/> values. Later features may add more; the audit stores any.</summary>
public static class ToolCallOutcome
{
    public const string Ok = "ok";

    /// <summary>The upstream answered with a result that has <c>isError</c>.</summary>
    public const string ToolError = "tool_error";

    /// <summary>The upstream was down, crashed, or answered with a JSON-RPC error.</summary>
    public const string UpstreamError = "upstream_error";

    public const string Timeout = "timeout";

    /// <summary>Policy or an approver said no.</summary>
    public const string Denied = "denied";

    /// <summary>A rate-limit rule refused the call.</summary>
    public const string RateLimited = "rate_limited";

    /// <summary>The upstream answered, but policy withheld the result because detectors found something in it.</summary>
    public const string ResultBlocked = "result_blocked";

    /// <summary>The upstream answered, and policy masked what detectors found in the result before the agent saw it.</summary>
    public const string ResultRedacted = "result_redacted";

    /// <summary>The request was not valid: unknown tool, bad arguments, wrong bundle.</summary>
    public const string Rejected = "rejected";

    public const string Cancelled = "cancelled";

    /// <summary>The call waits for an approval; the approval workflow records what follows.</summary>
    public const string Pending = "pending";
}

/// <summary>Where a record was committed: its id and its place in the writer's chain stream.</summary>
public readonly record struct ToolCallAuditReceipt(Guid Id, Guid StreamId, long Seq);

/// <summary>A stored record with its identity and place in its chain stream.</summary>
public sealed record ToolCallAuditEntry(Guid Id, Guid StreamId, long Seq, ToolCallRecord Record);
