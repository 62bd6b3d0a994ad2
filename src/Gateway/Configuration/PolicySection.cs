using System.Globalization;
using System.Text.RegularExpressions;
using ApprovalEngine.Gateway.Policy;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>Reads <c>policy:</c>: every reference checked against the other sections, every problem reported at once.</summary>
internal static class PolicySection
{
    private static readonly string[] Fields = ["default", "approvers", "mode", "hideDeniedTools", "regexTimeout", "progressInterval", "resultRetention", "results", "approval", "onDatabaseUnavailable", "rules"];
    private static readonly string[] RuleFields = ["name", "match", "action", "reason", "mode", "approval", "limit", "results"];
    private static readonly string[] MatchFields = ["agents", "groups", "bundles", "upstreams", "tools", "annotations", "arguments", "detectors"];
    internal static readonly string[] ApprovalFields = ["approvers", "quorum", "timeout", "onTimeout", "escalate", "hold", "allowEdits", "remember", "withdrawAfter"];
    private static readonly string[] Actions = ["allow", "deny", "approve", "rate_limit"];
    private static readonly string[] Defaults = ["allow", "deny", "approve", "read-only"];
    private static readonly string[] Modes = ["enforce", "detect"];

    public static PolicyConfig Read(MappingView root, PolicyReferences known)
    {
        if (root.Child("policy", Fields) is not { } section)
        {
            return PolicyConfig.AllowAll;
        }

        var approvers = ApproverGroups(section, "approvers", known);
        var regexTimeout = section.Duration("regexTimeout", PolicyConfig.DefaultRegexTimeout);
        var context = new RuleContext(known, approvers, regexTimeout);
        var policyDefault = section.Choice("default", required: true, Defaults) switch
        {
            "deny" => PolicyDefault.Deny,
            "approve" => PolicyDefault.Approve,
            "read-only" => PolicyDefault.ReadOnly,
            _ => PolicyDefault.Allow,
        };
        if (policyDefault is PolicyDefault.Approve or PolicyDefault.ReadOnly && approvers.Count == 0 && section.Has("default"))
        {
            section.Reader.Error(section.KeyPosition("default"), section.PathOf("default"),
                $"default {PolicyEngine.DefaultName(policyDefault)} asks for approvals; name the approver groups in policy.approvers");
        }

        return new PolicyConfig
        {
            Default = policyDefault,
            Approvers = approvers,
            Mode = Mode(section),
            HideDeniedTools = section.Choice("hideDeniedTools", required: false, "true", "false") is not "false",
            RegexTimeout = regexTimeout,
            ProgressInterval = section.Duration("progressInterval", PolicyConfig.DefaultProgressInterval),
            ResultRetention = section.Duration("resultRetention", PolicyConfig.DefaultResultRetention),
            Results = PolicySettings.Results(section),
            DefaultApproval = section.Child("approval", ApprovalFields) is { } approval ? PolicySettings.Approval(approval, context) : new ApprovalSpec(),
            OnDatabaseUnavailable = section.Choice("onDatabaseUnavailable", required: false, "deny", "allow") == "allow" ? DatabaseOutagePolicy.Allow : DatabaseOutagePolicy.Deny,
            Rules = Rules(section, context),
        };
    }

    private static List<PolicyRule> Rules(MappingView section, RuleContext context)
    {
        var rules = new List<PolicyRule>();
        var node = section.Node("rules");
        if (node is null)
        {
            return rules;
        }

        if (node is not YSequence sequence)
        {
            section.Reader.Error(node.Start, section.PathOf("rules"), $"expected a list of rules, found {node.Kind}");
            return rules;
        }

        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var clean = new List<(PolicyRule Rule, Position At)>();
        for (var i = 0; i < sequence.Items.Count; i++)
        {
            var item = sequence.Items[i];
            var path = string.Create(CultureInfo.InvariantCulture, $"{section.PathOf("rules")}[{i}]");
            if (section.Reader.Mapping(item, path, item.Start, RuleFields) is not { } rule)
            {
                if (item is YScalar { IsNull: true })
                {
                    section.Reader.Error(item.Start, path, "an empty rule; a rule needs at least an action");
                }

                continue;
            }

            var name = rule.String("name", check: Checks.Name) ?? string.Create(CultureInfo.InvariantCulture, $"#{i + 1}");
            if (!names.TryAdd(name, item.Start.Line))
            {
                rule.Reader.Error(rule.KeyPosition("name"), rule.PathOf("name"), $"rule name \"{name}\" is already used by the rule at line {names[name]}");
            }

            var errorsBefore = section.Reader.Errors.Count;
            if (Rule(rule, name, item.Start.Line, context) is { } parsed)
            {
                rules.Add(parsed);

                // A rule with errors lost its bad parts and may look broader than written; judging shadowing would mislead.
                if (section.Reader.Errors.Count == errorsBefore)
                {
                    clean.Add((parsed, item.Start));
                }
            }
        }

        ReportShadowed(section.Reader, section.PathOf("rules"), clean);
        return rules;
    }

    private static PolicyRule? Rule(MappingView rule, string name, int line, RuleContext context)
    {
        var actionText = rule.Choice("action", required: true, Actions);
        var action = actionText switch
        {
            "allow" => PolicyAction.Allow,
            "deny" => PolicyAction.Deny,
            "approve" => PolicyAction.Approve,
            "rate_limit" => PolicyAction.RateLimit,
            _ => (PolicyAction?)null,
        };

        // Settings that belong to another action would be silently ignored: say so instead.
        Only(rule, "approval", action, PolicyAction.Approve);
        Only(rule, "limit", action, PolicyAction.RateLimit);
        if (rule.Has("results") && action is PolicyAction.Deny or PolicyAction.RateLimit)
        {
            rule.Reader.Error(rule.KeyPosition("results"), rule.PathOf("results"), $"results apply only to calls that run (allow or approve), not to {actionText}");
        }

        if (action == PolicyAction.RateLimit && !rule.Has("limit"))
        {
            rule.Missing("limit", "for action rate_limit (calls, window, and optionally by)");
        }

        var approval = action == PolicyAction.Approve
            ? rule.Child("approval", ApprovalFields) is { } spec ? PolicySettings.Approval(spec, context) : new ApprovalSpec()
            : null;
        if (approval is { Approvers.Count: 0 } && context.DefaultApprovers.Count == 0)
        {
            rule.Reader.Error(rule.KeyPosition("action"), rule.PathOf("action"), "approve needs approver groups: set approval.approvers here, or policy.approvers");
        }

        var match = rule.Child("match", MatchFields) is { } matchView ? Match(matchView, context) : new RuleMatch();
        var limit = action == PolicyAction.RateLimit && rule.Child("limit", "calls", "window", "by") is { } limitView ? PolicySettings.Limit(limitView) : null;
        var results = PolicySettings.Results(rule);
        var mode = Mode(rule);
        if (action is null || (action == PolicyAction.RateLimit && limit is null))
        {
            return null;
        }

        return new PolicyRule
        {
            Name = name,
            Line = line,
            Match = match,
            Action = action.Value,
            Reason = rule.String("reason"),
            Mode = mode,
            Approval = approval,
            RateLimit = limit,
            Results = results,
        };
    }

    private static void Only(MappingView rule, string field, PolicyAction? action, PolicyAction owner)
    {
        if (rule.Has(field) && action is not null && action != owner)
        {
            rule.Reader.Error(rule.KeyPosition(field), rule.PathOf(field), $"{field} is for action {PolicyDecision.ActionName(owner)}, and this rule's action is {PolicyDecision.ActionName(action.Value)}");
        }
    }

    private static PolicyMode Mode(MappingView view) =>
        view.Choice("mode", required: false, Modes) == "detect" ? PolicyMode.Detect : PolicyMode.Enforce;

    private static RuleMatch Match(MappingView match, RuleContext context)
    {
        var known = context.Known;
        return new RuleMatch
        {
            Agents = Known(match, "agents", known.Agents, "agent"),
            Groups = Known(match, "groups", known.AgentGroups, "agent group"),
            Bundles = Known(match, "bundles", known.Bundles, "bundle"),
            Upstreams = Known(match, "upstreams", known.Upstreams, "upstream"),
            Tools = Tools(match, known),
            Annotations = Annotations(match),
            Arguments = PolicyArguments.Read(match, context.RegexTimeout),
            Detectors = DetectorSelectors(match, "detectors"),
        };
    }

    private static List<string> Known(MappingView view, string field, IReadOnlySet<string> names, string what)
    {
        var values = new List<string>();
        foreach (var (value, at) in view.List(field))
        {
            if (!names.Contains(value))
            {
                view.Reader.Error(at, view.PathOf(field), $"unknown {what} \"{value}\"{FieldNames.Suggestion(value, names)}");
            }
            else
            {
                values.Add(value);
            }
        }

        return values;
    }

    private static List<string> Tools(MappingView match, PolicyReferences known)
    {
        var tools = new List<string>();
        foreach (var (glob, at) in match.List("tools", Checks.Glob))
        {
            var split = glob.IndexOf(known.Separator, StringComparison.Ordinal);
            var upstream = split < 0 ? null : glob[..split];
            if (upstream is null && !glob.StartsWith('*'))
            {
                match.Reader.Error(at, match.PathOf("tools"), $"\"{glob}\" can never match: tool names are upstream{known.Separator}tool; write e.g. *{known.Separator}{glob}");
            }
            else if (upstream is not null && !Checks.HasWildcard(upstream) && !known.Upstreams.Contains(upstream))
            {
                match.Reader.Error(at, match.PathOf("tools"), $"\"{glob}\" names unknown upstream \"{upstream}\"{FieldNames.Suggestion(upstream, known.Upstreams)}");
            }
            else
            {
                tools.Add(glob);
            }
        }

        return tools;
    }

    private static Dictionary<string, bool> Annotations(MappingView match)
    {
        var hints = new Dictionary<string, bool>(StringComparer.Ordinal);
        if (match.Child("annotations", Hints.All) is not { } view)
        {
            return hints;
        }

        foreach (var (key, _) in view.Entries)
        {
            if (view.Choice(key.Value, required: false, "true", "false") is { } value)
            {
                hints[key.Value] = value == "true";
            }
        }

        return hints;
    }

    internal static List<string> DetectorSelectors(MappingView view, string field)
    {
        var selectors = new List<string>();
        foreach (var (selector, at) in view.List(field))
        {
            if (Detectors.Expand(selector) is null)
            {
                view.Reader.Error(at, view.PathOf(field), $"unknown detector \"{selector}\"{FieldNames.Suggestion(selector, [.. Detectors.Categories, .. Detectors.Names])}; categories: {string.Join(", ", Detectors.Categories)}");
            }
            else
            {
                selectors.Add(selector);
            }
        }

        return selectors;
    }

    internal static List<string> ApproverGroups(MappingView view, string field, PolicyReferences known) =>
        Known(view, field, known.ApproverGroups, "approver group");

    /// <summary>
    /// A rule that every call it could match is already decided by an earlier enforced rule can never match; that is
    /// almost always a mistake in the order. Only certain cases are reported (the earlier rule has no argument conditions).
    /// </summary>
    private static void ReportShadowed(ConfigReader reader, string field, List<(PolicyRule Rule, Position At)> rules)
    {
        for (var j = 1; j < rules.Count; j++)
        {
            var (later, at) = rules[j];
            for (var i = 0; i < j; i++)
            {
                var earlier = rules[i].Rule;
                if (earlier.Action != PolicyAction.RateLimit && earlier.Mode == PolicyMode.Enforce && RuleCoverage.Covers(earlier.Match, later.Match))
                {
                    reader.Error(at, field,
                        $"rule \"{later.Name}\" can never match: rule \"{earlier.Name}\" (line {earlier.Line}) matches every call it would match and decides first; move it above, or narrow \"{earlier.Name}\"");
                    break;
                }
            }
        }
    }
}

/// <summary>What every rule is read against: the names it may use, the default approvers, the regex timeout.</summary>
internal sealed record RuleContext(PolicyReferences Known, IReadOnlyList<string> DefaultApprovers, TimeSpan RegexTimeout);

/// <summary>Names the policy may refer to, gathered from the other sections.</summary>
internal sealed record PolicyReferences(
    IReadOnlySet<string> Agents,
    IReadOnlySet<string> AgentGroups,
    IReadOnlySet<string> Bundles,
    IReadOnlySet<string> Upstreams,
    IReadOnlySet<string> ApproverGroups,
    IReadOnlyDictionary<string, IReadOnlyList<string>> ApproverMembers,
    string Separator);
