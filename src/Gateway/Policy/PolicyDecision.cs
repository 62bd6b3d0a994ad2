using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>What policy looks at: who calls which tool, through which bundle, with which arguments.</summary>
public sealed record PolicyCall
{
    public required AgentConfig Agent { get; init; }

    public required string Bundle { get; init; }

    public required string Upstream { get; init; }

    /// <summary>The namespaced name (<c>fs__write_file</c>), whatever the bundle shows the agent.</summary>
    public required string ToolName { get; init; }

    /// <summary>The tool's annotations as its upstream lists them; null when it gives none (the MCP defaults apply).</summary>
    public ToolAnnotations? Annotations { get; init; }

    /// <summary>Whether the upstream's configuration marks the tool idempotent even without the annotation.</summary>
    public bool ConfiguredIdempotent { get; init; }

    public IDictionary<string, JsonElement>? Arguments { get; init; }
}

/// <summary>
/// The outcome of evaluating the policy for one call. <see cref="Action"/> is what applies: allow, deny, approve, or
/// rate_limit (refused for exceeding a limit). When a detect-mode rule matched, <see cref="Shadow"/> is what it would have decided.
/// </summary>
public sealed record PolicyDecision
{
    public const string DefaultRuleName = "default";

    /// <summary>What the audit names as the rule when the whole policy is in detect mode and let the call through.</summary>
    public const string DetectModeRuleName = "mode:detect";

    public required PolicyAction Action { get; init; }

    /// <summary>The deciding rule; null when the default decided (or everything was let through in detect mode).</summary>
    public PolicyRule? Rule { get; init; }

    /// <summary>The deciding rule's name, <see cref="DefaultRuleName"/>, or <see cref="DetectModeRuleName"/>.</summary>
    public string RuleName => Rule?.Name ?? (LetThroughByDetectMode ? DetectModeRuleName : DefaultRuleName);

    /// <summary>The whole policy is in detect mode: the call was let through, and <see cref="Shadow"/> says what would have happened.</summary>
    public bool LetThroughByDetectMode { get; init; }

    /// <summary>Why: the rule's reason, the default's description, or the exceeded limit.</summary>
    public string? Reason { get; init; }

    /// <summary>For approve: the settings, with the approver groups resolved.</summary>
    public ApprovalSpec? Approval { get; init; }

    /// <summary>What to do with detector findings in the result; null to pass results unchanged.</summary>
    public ResultPolicy? Results { get; init; }

    /// <summary>The detectors of <see cref="Results"/>.</summary>
    public DetectorSet? ResultDetectors { get; init; }

    /// <summary>The policy could not be evaluated (a regex ran too long, an internal fault); the call is refused.</summary>
    public bool Failed { get; init; }

    /// <summary>Whether the tool is safe to retry (annotated <c>idempotentHint</c>, or listed in the upstream's idempotentTools).</summary>
    public bool ToolIdempotent { get; init; }

    /// <summary>Set when an earlier approval's <c>remember</c> grant covers the call: that approval's id (the call runs as allowed).</summary>
    public Guid? GrantedBy { get; init; }

    /// <summary>For rate_limit: when the agent may call again.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public ShadowDecision? Shadow { get; init; }

    /// <summary>Every rule looked at, in order; filled only when explaining.</summary>
    public IReadOnlyList<TraceStep> Trace { get; init; } = [];

    /// <summary>Fail closed: a call whose policy cannot be evaluated is denied.</summary>
    public static PolicyDecision Failure(string why) => new()
    {
        Action = PolicyAction.Deny,
        Failed = true,
        Reason = $"the policy could not be evaluated ({why}), so the call is refused",
    };

    public static string ActionName(PolicyAction action) => action switch
    {
        PolicyAction.RateLimit => "rate_limit",
        _ => action.ToString().ToLowerInvariant(),
    };
}

/// <summary>What a detect-mode rule (or the whole policy in detect mode) would have decided.</summary>
public sealed record ShadowDecision(PolicyAction Action, string Rule, string? Reason);

/// <summary>One rule as evaluation met it: did it match, why (not), and what followed.</summary>
public sealed record TraceStep
{
    /// <summary>1-based position in the rules list; 0 for the default.</summary>
    public required int Index { get; init; }

    public required string Rule { get; init; }

    public int Line { get; init; }

    public required bool Matched { get; init; }

    /// <summary>Each criterion checked and its verdict, in order; evaluation of a rule stops at the first that fails.</summary>
    public IReadOnlyList<string> Checks { get; init; } = [];

    /// <summary>What the rule did: "decides: deny", "detect only: would deny", "within the rate limit; continues", "no match".</summary>
    public required string Effect { get; init; }
}
