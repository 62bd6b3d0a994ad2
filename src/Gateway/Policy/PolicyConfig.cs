using System.Collections.ObjectModel;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>
/// The <c>policy:</c> section: ordered rules, the first matching rule decides, then <see cref="Default"/>.
/// Rules in detect mode (and every rule when <see cref="Mode"/> is detect) only record what they would have decided.
/// </summary>
public sealed record PolicyConfig
{
    public static readonly TimeSpan DefaultRegexTimeout = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan DefaultProgressInterval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultResultRetention = TimeSpan.FromHours(24);

    /// <summary>Without a <c>policy:</c> section every call is allowed (and audited), as before policy existed.</summary>
    public static PolicyConfig AllowAll { get; } = new() { Default = PolicyDefault.Allow };

    public PolicyDefault Default { get; init; } = PolicyDefault.Allow;

    /// <summary>Approver groups for the <c>approve</c> and <c>read-only</c> defaults, and for approve rules that name none.</summary>
    public IReadOnlyList<string> Approvers { get; init; } = [];

    public PolicyMode Mode { get; init; } = PolicyMode.Enforce;

    /// <summary>Whether tools an agent could never call (denied whatever the arguments) are left out of its tools/list.</summary>
    public bool HideDeniedTools { get; init; } = true;

    /// <summary>The longest a <c>matches</c> condition may run on one value; a regex that times out fails the call closed.</summary>
    public TimeSpan RegexTimeout { get; init; } = DefaultRegexTimeout;

    /// <summary>What happens to results that detectors flag, for calls whose deciding rule says nothing about results.</summary>
    public ResultPolicy? Results { get; init; }

    /// <summary>How long the outcome of an approval is kept for a retry of the call to collect, once nobody was holding it.</summary>
    public TimeSpan ResultRetention { get; init; } = DefaultResultRetention;

    /// <summary>How often a held call that carries a progress token is told it is still waiting.</summary>
    public TimeSpan ProgressInterval { get; init; } = DefaultProgressInterval;

    /// <summary>The approval settings of the <c>approve</c> and <c>read-only</c> defaults.</summary>
    public ApprovalSpec DefaultApproval { get; init; } = new();

    /// <summary>What happens to calls that would run while the gateway's database is known to be unavailable.</summary>
    public DatabaseOutagePolicy OnDatabaseUnavailable { get; init; } = DatabaseOutagePolicy.Deny;

    public IReadOnlyList<PolicyRule> Rules { get; init; } = [];
}

public enum PolicyDefault
{
    Allow,
    Deny,
    Approve,

    /// <summary>Tools annotated <c>readOnlyHint: true</c> are allowed; every other tool needs approval.</summary>
    ReadOnly,
}

/// <summary><c>policy.onDatabaseUnavailable</c>: fail closed, or keep calls running with their audit records held in memory.</summary>
public enum DatabaseOutagePolicy
{
    /// <summary>Calls that would run are refused before they reach the upstream: nothing runs unaudited.</summary>
    Deny,

    /// <summary>
    /// Allowed calls run; their audit records are held in memory (bounded by the audit queue's capacity) and written when
    /// the database answers again. Gated calls still fail closed: without the database no approval can be asked for.
    /// </summary>
    Allow,
}

public enum PolicyMode
{
    Enforce,

    /// <summary>Shadow mode: record the decision that would have been made and let the call through.</summary>
    Detect,
}

public enum PolicyAction
{
    Allow,
    Deny,
    Approve,

    /// <summary>Counts calls; over the limit the call is refused, within it evaluation continues with the next rule.</summary>
    RateLimit,
}

public sealed record PolicyRule
{
    /// <summary>The rule's name (<c>#3</c> for an unnamed third rule); unique in the policy.</summary>
    public required string Name { get; init; }

    /// <summary>Line of the rule in the configuration file, shown by explain.</summary>
    public int Line { get; init; }

    public RuleMatch Match { get; init; } = new();

    public required PolicyAction Action { get; init; }

    /// <summary>Why the rule exists, shown to the agent on deny and to approvers on approve.</summary>
    public string? Reason { get; init; }

    public PolicyMode Mode { get; init; } = PolicyMode.Enforce;

    /// <summary>Set when <see cref="Action"/> is approve.</summary>
    public ApprovalSpec? Approval { get; init; }

    /// <summary>Set when <see cref="Action"/> is rate_limit.</summary>
    public RateLimitSpec? RateLimit { get; init; }

    public ResultPolicy? Results { get; init; }
}

/// <summary>What a rule matches; every criterion given must hold, an empty list means "any".</summary>
public sealed record RuleMatch
{
    public IReadOnlyList<string> Agents { get; init; } = [];

    /// <summary>Agent groups; the agent must be in at least one.</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];

    public IReadOnlyList<string> Bundles { get; init; } = [];

    public IReadOnlyList<string> Upstreams { get; init; } = [];

    /// <summary>Globs over namespaced tool names (<c>fs__write_*</c>).</summary>
    public IReadOnlyList<string> Tools { get; init; } = [];

    /// <summary>Tool annotation hints and the value each must have (absent hints take the MCP defaults).</summary>
    public IReadOnlyDictionary<string, bool> Annotations { get; init; } = ReadOnlyDictionary<string, bool>.Empty;

    public IReadOnlyList<ArgumentCondition> Arguments { get; init; } = [];

    /// <summary>Detector selectors (<c>secrets</c>, <c>pii.email</c>); matches when any of them finds something in the arguments.</summary>
    public IReadOnlyList<string> Detectors { get; init; } = [];

    /// <summary>Whether the match depends on the call's arguments (conditions or detectors), not only on who calls what.</summary>
    public bool DependsOnArguments => Arguments.Count > 0 || Detectors.Count > 0;
}

/// <summary>One condition on the value at <see cref="Path"/>: every operator given must hold.</summary>
public sealed record ArgumentCondition
{
    public required JsonPath Path { get; init; }

    public IReadOnlyList<ConditionOperator> Operators { get; init; } = [];
}

public enum ConditionKind
{
    Eq,
    Ne,
    In,
    NotIn,
    Gt,
    Gte,
    Lt,
    Lte,
    Matches,
    Glob,
    Contains,
    Exists,
    Length,
}

/// <summary>
/// An operator and its operand: <see cref="Value"/> for comparisons, <see cref="Values"/> for in/not_in, <see cref="Regex"/>
/// for matches, <see cref="Bounds"/> for length (each bound compared with the length).
/// </summary>
public sealed record ConditionOperator
{
    public required ConditionKind Kind { get; init; }

    public JsonElement Value
    {
        get;
        init
        {
            field = value;
            Operand = new Operand(value);
        }
    }

    public IReadOnlyList<JsonElement> Values
    {
        get;
        init
        {
            field = value;
            Operands = [.. value.Select(v => new Operand(v))];
        }
    } = [];

    /// <summary><see cref="Value"/> prepared for comparison, so evaluation neither parses nor allocates.</summary>
    public Operand Operand { get; private init; }

    /// <summary><see cref="Values"/> prepared for comparison.</summary>
    public IReadOnlyList<Operand> Operands { get; private init; } = [];

    public Regex? Regex { get; init; }

    public IReadOnlyList<ConditionOperator> Bounds { get; init; } = [];
}

public enum OnTimeout
{
    Deny,
    Escalate,
}

public sealed record ApprovalSpec
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromHours(1);
    public static readonly TimeSpan DefaultHold = TimeSpan.FromSeconds(50);

    /// <summary>Approver groups; empty means the policy's <see cref="PolicyConfig.Approvers"/>.</summary>
    public IReadOnlyList<string> Approvers { get; init; } = [];

    /// <summary>How many different approvers must approve.</summary>
    public int Quorum { get; init; } = 1;

    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    public OnTimeout OnTimeout { get; init; } = OnTimeout.Deny;

    /// <summary>Set when <see cref="OnTimeout"/> is escalate: who is asked next, for how long (then it is denied).</summary>
    public Escalation? Escalation { get; init; }

    /// <summary>How long the agent's call is held open before it gets a "pending, call again" result.</summary>
    public TimeSpan Hold { get; init; } = DefaultHold;

    /// <summary>Whether an approver may approve edited arguments (both digests are audited; the edited ones run).</summary>
    public bool AllowEdits { get; init; }

    /// <summary>
    /// When set, an approval whose agent stopped waiting (cancelled, or disconnected) and did not call again within
    /// this long is withdrawn. Null (the default): it stays open until its deadline, for a retry to join.
    /// </summary>
    public TimeSpan? WithdrawAfter { get; init; }

    /// <summary>When set, an approval also grants later calls of the same agent and tool for a while.</summary>
    public RememberSpec? Remember { get; init; }
}

public sealed record Escalation
{
    public required IReadOnlyList<string> Approvers { get; init; }

    public TimeSpan Timeout { get; init; } = ApprovalSpec.DefaultTimeout;
}

public sealed record RememberSpec
{
    public required TimeSpan Duration { get; init; }

    /// <summary>Whether the grant covers only calls with the same arguments (same digest).</summary>
    public bool SameArguments { get; init; } = true;
}

public enum RateLimitKey
{
    Agent,
    Tool,
    Bundle,
    Upstream,
}

public sealed record RateLimitSpec
{
    /// <summary>Each budget remembers the time of every call in its window, so the count is capped.</summary>
    public const int MaxCalls = 100_000;

    public required int Calls { get; init; }

    public required TimeSpan Window { get; init; }

    /// <summary>What a separate budget is kept for; the default is one per agent and tool.</summary>
    public IReadOnlyList<RateLimitKey> By { get; init; } = [RateLimitKey.Agent, RateLimitKey.Tool];
}

public enum ResultAction
{
    /// <summary>Replace each finding with <c>[redacted:&lt;detector&gt;]</c>.</summary>
    Redact,

    /// <summary>Withhold the whole result; the agent gets an error naming the detectors.</summary>
    Block,
}

public sealed record ResultPolicy
{
    public required IReadOnlyList<string> Detectors { get; init; }

    public ResultAction Action { get; init; } = ResultAction.Redact;
}

/// <summary>A constant operand prepared once: its kind, its string (and UTF-8 bytes), its number.</summary>
public readonly record struct Operand
{
    public Operand(JsonElement value)
    {
        Kind = value.ValueKind == JsonValueKind.False ? JsonValueKind.True : value.ValueKind;
        Text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        Utf8 = Text is null ? null : System.Text.Encoding.UTF8.GetBytes(Text);
        Number = value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var number) ? number : null;
    }

    /// <summary>The JSON kind, with false folded into true (both are booleans).</summary>
    public JsonValueKind Kind { get; }

    public string? Text { get; }

    public byte[]? Utf8 { get; }

    /// <summary>Null for non-numbers and for numbers outside decimal's range (compared as doubles).</summary>
    public decimal? Number { get; }
}
