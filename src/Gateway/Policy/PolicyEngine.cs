using System.Collections.Concurrent;
using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>
/// Evaluates a <see cref="PolicyConfig"/>: rules in order, the first enforced rule that matches decides, else the
/// default. Rate-limit rules refuse over their limit and otherwise let evaluation continue; detect-mode rules record
/// what they would have decided and let evaluation continue. Immutable and thread-safe; built once per configuration.
/// </summary>
public sealed class PolicyEngine
{
    private const int MaxCachedCandidates = 100_000;

    private readonly PolicyConfig policy;
    private readonly string separator;
    private readonly DetectorSet?[] ruleDetectors;
    private readonly DetectorSet? allDetectors;
    private readonly Dictionary<ResultPolicy, DetectorSet> resultDetectors = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentDictionary<CandidateKey, int[]> candidates = new();

    public PolicyEngine(PolicyConfig policy, string toolSeparator = ServerConfig.DefaultToolSeparator)
    {
        this.policy = policy;
        separator = toolSeparator;
        ruleDetectors = [.. policy.Rules.Select(rule => rule.Match.Detectors.Count == 0 ? null : DetectorSet.Create(Expand(rule.Match.Detectors)))];
        var used = ruleDetectors.Where(set => set is not null).SelectMany(set => set!.Names).Distinct(StringComparer.Ordinal).ToList();
        allDetectors = used.Count == 0 ? null : DetectorSet.Create(used);
        foreach (var results in policy.Rules.Select(rule => rule.Results).Append(policy.Results).OfType<ResultPolicy>())
        {
            resultDetectors.TryAdd(results, DetectorSet.Create(Expand(results.Detectors)));
        }
    }

    public PolicyConfig Config => policy;

    /// <summary>Joins an upstream and its tool's name the way rules' tool globs see it.</summary>
    public string ToolName(string upstream, string localName) => upstream + separator + localName;

    /// <summary>Decides a call. <paramref name="limits"/> counts calls for rate-limit rules (null: they are only described).</summary>
    /// <exception cref="System.Text.RegularExpressions.RegexMatchTimeoutException">A <c>matches</c> condition ran too long; fail the call closed.</exception>
    public PolicyDecision Evaluate(PolicyCall call, RateLimiter? limits) => Run(call, limits, trace: null);

    /// <summary>Decides a call as <see cref="Evaluate"/> would, with the trace of every rule looked at; counts nothing.</summary>
    public PolicyDecision Explain(PolicyCall call)
    {
        var trace = new List<TraceStep>();
        return Run(call, limits: null, trace) with { Trace = trace };
    }

    /// <summary>
    /// Whether every call of this tool by this agent is denied, whatever the arguments: such tools are hidden from its
    /// tools/list when <see cref="PolicyConfig.HideDeniedTools"/> is on. Rules that depend on arguments leave it open.
    /// </summary>
    public bool AlwaysDenies(AgentConfig agent, string bundle, string upstream, string toolName, ToolAnnotations? annotations)
    {
        if (!policy.HideDeniedTools || policy.Mode == PolicyMode.Detect)
        {
            return false;
        }

        var call = new PolicyCall { Agent = agent, Bundle = bundle, Upstream = upstream, ToolName = toolName, Annotations = annotations };
        foreach (var rule in policy.Rules)
        {
            if (rule.Mode == PolicyMode.Detect || rule.Action == PolicyAction.RateLimit || !MatchesWho(rule.Match, call, null))
            {
                continue;
            }

            if (rule.Match.DependsOnArguments)
            {
                // A deny that depends on the arguments still leaves other arguments to the rules below it.
                if (rule.Action == PolicyAction.Deny)
                {
                    continue;
                }

                return false;
            }

            return rule.Action == PolicyAction.Deny;
        }

        return policy.Default == PolicyDefault.Deny;
    }

    private PolicyDecision Run(PolicyCall call, RateLimiter? limits, List<TraceStep>? trace)
    {
        var detect = policy.Mode == PolicyMode.Detect;
        var scratch = new List<JsonElement>();
        IReadOnlySet<string>? found = null;
        ShadowDecision? shadow = null;
        PolicyDecision? decided = null;
        // Explaining looks at every rule; deciding only at those whose who-and-what part matches this caller and tool.
        var indexes = trace is null ? Candidates(call) : null;
        var count = indexes?.Length ?? policy.Rules.Count;
        for (var n = 0; n < count && decided is null; n++)
        {
            var i = indexes?[n] ?? n;
            var rule = policy.Rules[i];
            var checks = trace is null ? null : new List<string>();
            var matched = (indexes is not null || MatchesWho(rule.Match, call, checks)) && MatchesArguments(rule, i, call, scratch, ref found, checks);
            string effect;
            if (!matched)
            {
                effect = "no match";
            }
            else if (rule.Action == PolicyAction.RateLimit)
            {
                effect = RateLimit(rule, call, limits, detect, ref shadow, ref decided);
            }
            else if (rule.Mode == PolicyMode.Detect && !detect)
            {
                shadow ??= new ShadowDecision(rule.Action, rule.Name, rule.Reason);
                effect = $"detect only: would {PolicyDecision.ActionName(rule.Action)}; continues";
            }
            else
            {
                decided = FromRule(rule);
                effect = "decides: " + PolicyDecision.ActionName(rule.Action);
            }

            trace?.Add(new TraceStep { Index = i + 1, Rule = rule.Name, Line = rule.Line, Matched = matched, Checks = checks!, Effect = effect });
        }

        if (decided is null)
        {
            decided = FromDefault(call);
            trace?.Add(new TraceStep
            {
                Index = 0,
                Rule = PolicyDecision.DefaultRuleName,
                Matched = true,
                Checks = [$"default: {DefaultName(policy.Default)}"],
                Effect = "decides: " + PolicyDecision.ActionName(decided.Action),
            });
        }

        if (detect)
        {
            // Shadow mode for the whole policy: everything goes through, and what would have happened is recorded.
            return WithResultDetectors(new PolicyDecision
            {
                Action = PolicyAction.Allow,
                LetThroughByDetectMode = true,
                Reason = "policy mode is detect: the call is let through",
                Results = policy.Results,
                Shadow = new ShadowDecision(decided.Action, decided.RuleName, decided.Reason),
            });
        }

        decided = WithResultDetectors(decided) with { ToolIdempotent = Hint(call, Hints.Idempotent) };
        return shadow is null ? decided : decided with { Shadow = shadow };
    }

    private PolicyDecision WithResultDetectors(PolicyDecision decision) =>
        decision.Results is { } results ? decision with { ResultDetectors = resultDetectors[results] } : decision;

    /// <summary>
    /// The rules whose agent, group, bundle, upstream, tool and annotation criteria match this call, in order. They do
    /// not depend on arguments, so they are computed once per caller and tool and kept for the life of the engine
    /// (one configuration); the cache is bounded, and past the bound they are computed each time.
    /// </summary>
    private int[] Candidates(PolicyCall call)
    {
        var key = new CandidateKey(call.Agent.Id, call.Bundle, call.Upstream, call.ToolName, HintBits(call));
        if (candidates.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var list = new List<int>();
        for (var i = 0; i < policy.Rules.Count; i++)
        {
            if (MatchesWho(policy.Rules[i].Match, call, null))
            {
                list.Add(i);
            }
        }

        int[] indexes = [.. list];
        if (candidates.Count < MaxCachedCandidates)
        {
            candidates.TryAdd(key, indexes);
        }

        return indexes;
    }

    private static int HintBits(PolicyCall call)
    {
        var bits = 0;
        for (var i = 0; i < Hints.All.Length; i++)
        {
            bits |= Hint(call, Hints.All[i]) ? 1 << i : 0;
        }

        return bits;
    }

    private readonly record struct CandidateKey(string Agent, string Bundle, string Upstream, string Tool, int Hints);

    private string RateLimit(PolicyRule rule, PolicyCall call, RateLimiter? limits, bool detect, ref ShadowDecision? shadow, ref PolicyDecision? decided)
    {
        var spec = rule.RateLimit!;
        var limit = $"{spec.Calls} call(s) per {Durations.Format(spec.Window)}";
        if (limits is null)
        {
            return $"counts calls ({limit}); explain counts nothing, so evaluation continues";
        }

        if (limits.TryAcquire(rule, call, out var retryAfter))
        {
            return $"within the rate limit ({limit}); continues";
        }

        var reason = $"rate limit exceeded: {limit} (rule '{rule.Name}'); retry in {Math.Ceiling(retryAfter.TotalSeconds)} s";
        if (rule.Mode == PolicyMode.Detect && !detect)
        {
            shadow ??= new ShadowDecision(PolicyAction.RateLimit, rule.Name, reason);
            return "detect only: would refuse, " + reason;
        }

        decided = new PolicyDecision { Action = PolicyAction.RateLimit, Rule = rule, Reason = reason, RetryAfter = retryAfter };
        return "decides: " + reason;
    }

    private PolicyDecision FromRule(PolicyRule rule) => new()
    {
        Action = rule.Action,
        Rule = rule,
        Reason = rule.Reason,
        Approval = rule.Action == PolicyAction.Approve ? Resolve(rule.Approval ?? new ApprovalSpec()) : null,
        Results = rule.Results ?? policy.Results,
    };

    private PolicyDecision FromDefault(PolicyCall call)
    {
        var action = policy.Default switch
        {
            PolicyDefault.Allow => PolicyAction.Allow,
            PolicyDefault.Deny => PolicyAction.Deny,
            PolicyDefault.Approve => PolicyAction.Approve,
            _ => Hint(call, "readOnlyHint") ? PolicyAction.Allow : PolicyAction.Approve,
        };
        var reason = policy.Default switch
        {
            PolicyDefault.ReadOnly when action == PolicyAction.Allow => "default read-only: the tool is annotated readOnlyHint",
            PolicyDefault.ReadOnly => "default read-only: the tool is not annotated readOnlyHint, so it needs approval",
            PolicyDefault.Deny => "no rule allows this call and the default is deny",
            _ => $"no rule matched; the default is {DefaultName(policy.Default)}",
        };
        return new PolicyDecision
        {
            Action = action,
            Reason = reason,
            Approval = action == PolicyAction.Approve ? Resolve(policy.DefaultApproval) : null,
            Results = policy.Results,
        };
    }

    private ApprovalSpec Resolve(ApprovalSpec spec) => spec.Approvers.Count > 0 ? spec : spec with { Approvers = policy.Approvers };

    private bool MatchesArguments(PolicyRule rule, int index, PolicyCall call, List<JsonElement> scratch, ref IReadOnlySet<string>? found, List<string>? checks)
    {
        var conditions = rule.Match.Arguments;
        for (var c = 0; c < conditions.Count; c++)
        {
            var condition = conditions[c];
            if (checks is not null)
            {
                scratch.Clear();
                condition.Path.Select(call.Arguments, scratch);
                var values = scratch.Count == 0 ? [null] : scratch.Select(v => (JsonElement?)v).ToList();
                foreach (var op in condition.Operators)
                {
                    checks.AddRange(values.Select(value => Conditions.Describe(condition, op, value)));
                }
            }

            if (!Conditions.Holds(condition, call.Arguments, scratch))
            {
                return false;
            }
        }

        if (ruleDetectors[index] is not { } detectors)
        {
            return true;
        }

        // One scan per call with every detector any rule uses; each rule then looks for its own.
        found ??= allDetectors!.FindIn(call.Arguments);
        var hits = detectors.Names.Where(found.Contains).ToList();
        checks?.Add(hits.Count > 0
            ? $"detectors found {string.Join(", ", hits)} in the arguments"
            : $"detectors ({string.Join(", ", rule.Match.Detectors)}) found nothing in the arguments");
        return hits.Count > 0;
    }

    private static bool MatchesWho(RuleMatch match, PolicyCall call, List<string>? checks)
    {
        // Explanations are built only when explaining (inside "checks is not null"): this runs for every rule of every call.
        if (match.Agents.Count > 0)
        {
            var holds = Has(match.Agents, call.Agent.Id);
            checks?.Add(Say($"agent '{call.Agent.Id}'", holds, "is in", "is not in", match.Agents));
            if (!holds)
            {
                return false;
            }
        }

        if (match.Groups.Count > 0)
        {
            var holds = Meets(match.Groups, call.Agent.Groups);
            checks?.Add(Say($"agent groups [{string.Join(", ", call.Agent.Groups)}]", holds, "include one of", "include none of", match.Groups));
            if (!holds)
            {
                return false;
            }
        }

        if (match.Bundles.Count > 0)
        {
            var holds = Has(match.Bundles, call.Bundle);
            checks?.Add(Say($"bundle '{call.Bundle}'", holds, "is in", "is not in", match.Bundles));
            if (!holds)
            {
                return false;
            }
        }

        if (match.Upstreams.Count > 0)
        {
            var holds = Has(match.Upstreams, call.Upstream);
            checks?.Add(Say($"upstream '{call.Upstream}'", holds, "is in", "is not in", match.Upstreams));
            if (!holds)
            {
                return false;
            }
        }

        if (match.Tools.Count > 0)
        {
            var holds = Glob.AnyMatch(match.Tools, call.ToolName);
            checks?.Add(Say($"tool '{call.ToolName}'", holds, "matches", "matches none of", match.Tools));
            if (!holds)
            {
                return false;
            }
        }

        if (match.Annotations.Count == 0)
        {
            return true;
        }

        // The four hints by index, not the dictionary's (boxed) enumerator.
        for (var i = 0; i < Hints.All.Length; i++)
        {
            var hint = Hints.All[i];
            if (!match.Annotations.TryGetValue(hint, out var wanted))
            {
                continue;
            }

            var actual = Hint(call, hint);
            checks?.Add(Say($"{hint} is {Lower(actual)}", actual == wanted, "as required", "but the rule requires", [Lower(wanted)]));
            if (actual != wanted)
            {
                return false;
            }
        }

        return true;
    }

    // Index loops, not LINQ: these run for every rule of every call, and enumerating an IReadOnlyList allocates.
    private static bool Has(IReadOnlyList<string> list, string value)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Meets(IReadOnlyList<string> wanted, IReadOnlyList<string> groups)
    {
        for (var i = 0; i < wanted.Count; i++)
        {
            if (Has(groups, wanted[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static string Say(string subject, bool holds, string holdsText, string failsText, IReadOnlyList<string> values) =>
        $"{subject} {(holds ? holdsText : failsText)} [{string.Join(", ", values)}]";

    /// <summary>An annotation hint with the MCP defaults for absent ones: not read-only, destructive, not idempotent, open-world.</summary>
    public static bool Hint(PolicyCall call, string hint)
    {
        var annotations = call.Annotations;
        return hint switch
        {
            Hints.ReadOnly => annotations?.ReadOnlyHint ?? false,
            Hints.Destructive => annotations?.DestructiveHint ?? true,
            Hints.Idempotent => (annotations?.IdempotentHint ?? false) || call.ConfiguredIdempotent,
            Hints.OpenWorld => annotations?.OpenWorldHint ?? true,
            _ => throw new ArgumentOutOfRangeException(nameof(hint), hint, "unknown annotation hint"),
        };
    }

    public static string DefaultName(PolicyDefault value) => value == PolicyDefault.ReadOnly ? "read-only" : value.ToString().ToLowerInvariant();

    private static string Lower(bool value) => value ? "true" : "false";

    private static IEnumerable<string> Expand(IEnumerable<string> selectors) =>
        selectors.SelectMany(selector => Detectors.Expand(selector) ?? throw new ArgumentException($"unknown detector '{selector}'", nameof(selectors)));
}

/// <summary>The tool annotation hints rules can match on.</summary>
public static class Hints
{
    public const string ReadOnly = "readOnlyHint";
    public const string Destructive = "destructiveHint";
    public const string Idempotent = "idempotentHint";
    public const string OpenWorld = "openWorldHint";

    public static readonly string[] All = [ReadOnly, Destructive, Idempotent, OpenWorld];
}
