using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Gateway.Tests.Configuration;

namespace ApprovalEngine.Gateway.Tests.Policy;

public sealed class PolicyConfigTests
{
    private const string KeyHash = "sha256:605ba8cebd23cbc9d8005ed3c569e1b316aa829555d36f8583ba76f96750b6e4";

    // Lines 1-19; policies start on line 20.
    private const string Base = $$"""
        upstreams:
          fs:
            type: stdio
            command: npx
          pay:
            type: http
            url: http://127.0.0.1:9000/mcp
        agents:
          bot:
            owner: alice@example.com
            groups: [automation]
            keys: [{{KeyHash}}]
        bundles:
          work:
            upstreams: [fs, pay]
            agents: [bot]
        approvers:
          finance: {members: [carol@example.com, dave@example.com]}
          cfo: {members: [erin@example.com]}

        """;

    [Fact]
    public void Parse_FullPolicy_MapsEveryField()
    {
        var config = Parse("""
            policy:
              default: read-only
              approvers: [finance]
              mode: enforce
              hideDeniedTools: false
              regexTimeout: 20ms
              results: {detectors: [secrets], action: block}
              approval: {timeout: 2h, hold: 10s}
              rules:
                - name: big-payments
                  match:
                    agents: [bot]
                    groups: [automation]
                    bundles: [work]
                    upstreams: [pay]
                    tools: ["pay__send_*"]
                    annotations: {destructiveHint: true}
                    arguments:
                      - {path: $.amount, gt: 1000, lte: 1e6}
                      - {path: $.currency, in: [USD, "EUR"]}
                      - {path: $.memo, matches: "^INV-[0-9]+$", length: {gte: 5, lt: 40}}
                      - {path: $.note, exists: false}
                      - {path: $.tags, contains: urgent}
                      - {path: $.to, glob: "acct-*", ne: "acct-0"}
                      - {path: $.flags, not_in: [1, 2], eq: 3}
                    detectors: [pii.card, secrets]
                  action: approve
                  reason: Payments over 1000 need finance
                  approval:
                    approvers: [finance]
                    quorum: 2
                    timeout: 30m
                    onTimeout: escalate
                    escalate: {approvers: [cfo], timeout: 1h}
                    hold: 2m
                    allowEdits: true
                    remember: {for: 8h, sameArguments: false}
                  results: {detectors: [pii], action: redact}
                - name: throttle
                  action: rate_limit
                  limit: {calls: 10, window: 1m, by: [agent, upstream]}
                - name: trial
                  match: {tools: ["fs__write_*"]}
                  action: deny
                  mode: detect
            """);

        var policy = config.Policy;
        Assert.Equal(PolicyDefault.ReadOnly, policy.Default);
        Assert.Equal(["finance"], policy.Approvers);
        Assert.False(policy.HideDeniedTools);
        Assert.Equal(TimeSpan.FromMilliseconds(20), policy.RegexTimeout);
        Assert.Equal(ResultAction.Block, policy.Results!.Action);
        Assert.Equal(TimeSpan.FromHours(2), policy.DefaultApproval.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(10), policy.DefaultApproval.Hold);

        var rule = policy.Rules[0];
        Assert.Equal(("big-payments", 29, PolicyAction.Approve), (rule.Name, rule.Line, rule.Action));
        Assert.Equal(["pay__send_*"], rule.Match.Tools);
        Assert.True(rule.Match.Annotations[Hints.Destructive]);
        Assert.Equal(7, rule.Match.Arguments.Count);
        Assert.Equal([ConditionKind.Gt, ConditionKind.Lte], rule.Match.Arguments[0].Operators.Select(o => o.Kind));
        Assert.Equal(JsonValueKind.Number, rule.Match.Arguments[0].Operators[0].Value.ValueKind);
        Assert.Equal(["USD", "EUR"], rule.Match.Arguments[1].Operators[0].Values.Select(v => v.GetString()));
        Assert.Equal(TimeSpan.FromMilliseconds(20), rule.Match.Arguments[2].Operators[0].Regex!.MatchTimeout);
        Assert.Equal(2, rule.Match.Arguments[2].Operators[1].Bounds.Count);
        Assert.Equal(["pii.card", "secrets"], rule.Match.Detectors);
        var approval = rule.Approval!;
        Assert.Equal((2, TimeSpan.FromMinutes(30), OnTimeout.Escalate), (approval.Quorum, approval.Timeout, approval.OnTimeout));
        Assert.Equal(["cfo"], approval.Escalation!.Approvers);
        Assert.Equal(TimeSpan.FromHours(1), approval.Escalation.Timeout);
        Assert.Equal((TimeSpan.FromMinutes(2), true), (approval.Hold, approval.AllowEdits));
        Assert.Equal((TimeSpan.FromHours(8), false), (approval.Remember!.Duration, approval.Remember.SameArguments));
        Assert.Equal(ResultAction.Redact, rule.Results!.Action);

        var throttle = policy.Rules[1];
        Assert.Equal("throttle", throttle.Name);
        Assert.Equal((10, TimeSpan.FromMinutes(1)), (throttle.RateLimit!.Calls, throttle.RateLimit.Window));
        Assert.Equal([RateLimitKey.Agent, RateLimitKey.Upstream], throttle.RateLimit.By);
        Assert.Equal(PolicyMode.Detect, policy.Rules[2].Mode);
    }

    [Fact]
    public void Parse_NoPolicySection_AllowsEverything()
    {
        Assert.Same(PolicyConfig.AllowAll, Parse("").Policy);
    }

    [Fact]
    public void Parse_QuotedAndPlainOperands_KeepTheirYamlTypes()
    {
        var config = Parse("""
            policy:
              default: allow
              rules:
                - match:
                    arguments:
                      - {path: a, eq: 5}
                      - {path: b, eq: "5"}
                      - {path: c, eq: true}
                      - {path: d, eq: 'true'}
                      - {path: e, eq: null}
                      - {path: f, eq: [1, x]}
                  action: deny
            """);

        var kinds = config.Policy.Rules[0].Match.Arguments.Select(a => a.Operators[0].Value.ValueKind);
        Assert.Equal([JsonValueKind.Number, JsonValueKind.String, JsonValueKind.True, JsonValueKind.String, JsonValueKind.Null, JsonValueKind.Array], kinds);
        Assert.Equal("#1", config.Policy.Rules[0].Name);
    }

    public static TheoryData<string, string> Errors => new()
    {
        { "policy:\n  default: maybe\n", "gateway.yaml:21:12: policy.default: must be one of: allow, deny, approve, read-only" },
        { "policy:\n  rules: []\n", "gateway.yaml:20:1: policy.default: is required" },
        { "policy:\n  default: approve\n", "gateway.yaml:21:3: policy.default: default approve asks for approvals; name the approver groups in policy.approvers" },
        { "policy:\n  default: allow\n  colour: red\n", "gateway.yaml:22:3: policy.colour: unknown field \"colour\"" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      mach: {}\n", "gateway.yaml:24:7: policy.rules[0].mach: unknown field \"mach\"; did you mean \"match\"?" },
        { "policy:\n  default: allow\n  rules:\n    - match: {tools: [x]}\n", "gateway.yaml:23:7: policy.rules[0].action: is required" },
        { "policy:\n  default: allow\n  rules:\n    - action: permit\n", "gateway.yaml:23:15: policy.rules[0].action: must be one of: allow, deny, approve, rate_limit" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match: {agents: [bott]}\n", "gateway.yaml:24:24: policy.rules[0].match.agents: unknown agent \"bott\"; did you mean \"bot\"?" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match: {groups: [ops]}\n", "policy.rules[0].match.groups: unknown agent group \"ops\"" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match: {bundles: [play]}\n", "policy.rules[0].match.bundles: unknown bundle \"play\"" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match: {upstreams: [fss]}\n", "unknown upstream \"fss\"; did you mean \"fs\"?" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match: {tools: [write_file]}\n", "\"write_file\" can never match: tool names are upstream__tool; write e.g. *__write_file" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match: {tools: [git__push]}\n", "\"git__push\" names unknown upstream \"git\"" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match: {annotations: {readonlyHint: true}}\n", "unknown field \"readonlyHint\"; did you mean \"readOnlyHint\"?" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match: {annotations: {readOnlyHint: yes}}\n", "policy.rules[0].match.annotations.readOnlyHint: must be one of: true, false" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match:\n        arguments:\n          - {path: $.a, matches: \"([a-z\"}\n", "gateway.yaml:26:34: policy.rules[0].match.arguments[0].matches: not a valid regular expression" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match:\n        arguments:\n          - {path: \"$.a[\", eq: 1}\n", "policy.rules[0].match.arguments[0].path: not a JSON path: a '[' at character 4 is not closed" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match:\n        arguments:\n          - {path: $.a, between: 1}\n", "unknown field \"between\"" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match:\n        arguments:\n          - {path: $.a}\n", "a condition needs an operator" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match:\n        arguments:\n          - {path: $.a, in: 5}\n", "policy.rules[0].match.arguments[0].in: expects a non-empty list of values" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match:\n        arguments:\n          - {path: $.a, gt: [1]}\n", "gt: expects a number or a string to compare with" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match:\n        arguments:\n          - {path: $.a, exists: maybe}\n", "exists: expects true or false" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match:\n        arguments:\n          - {path: $.a, length: {gte: -1}}\n", "length.gte: expects a whole number" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      match: {detectors: [secret]}\n", "unknown detector \"secret\"; did you mean \"secrets\"?" },
        { "policy:\n  default: allow\n  rules:\n    - action: approve\n", "gateway.yaml:23:7: policy.rules[0].action: approve needs approver groups" },
        { "policy:\n  default: allow\n  rules:\n    - action: approve\n      approval: {approvers: [financ]}\n", "unknown approver group \"financ\"; did you mean \"finance\"?" },
        { "policy:\n  default: allow\n  rules:\n    - action: approve\n      approval: {approvers: [cfo], quorum: 2}\n", "a quorum of 2 can never be reached: the approver groups [cfo] have 1 member(s)" },
        { "policy:\n  default: allow\n  rules:\n    - action: approve\n      approval: {approvers: [cfo], onTimeout: escalate}\n", "policy.rules[0].approval.escalate: is required for onTimeout: escalate" },
        { "policy:\n  default: allow\n  rules:\n    - action: approve\n      approval: {approvers: [cfo], escalate: {approvers: [finance]}}\n", "escalate is used only with onTimeout: escalate" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      approval: {approvers: [cfo]}\n", "approval is for action approve, and this rule's action is deny" },
        { "policy:\n  default: allow\n  rules:\n    - action: rate_limit\n", "policy.rules[0].limit: is required for action rate_limit" },
        { "policy:\n  default: allow\n  rules:\n    - action: rate_limit\n      limit: {calls: 0, window: 1m}\n", "policy.rules[0].limit.calls: must be at least 1" },
        { "policy:\n  default: allow\n  rules:\n    - action: rate_limit\n      limit: {calls: 5, window: 1m, by: [agnt]}\n", "must be one of: agent, tool, bundle, upstream; did you mean \"agent\"?" },
        { "policy:\n  default: allow\n  rules:\n    - action: deny\n      results: {detectors: [secrets]}\n", "results apply only to calls that run (allow or approve), not to deny" },
        { "policy:\n  default: allow\n  rules:\n    - {name: a, action: deny}\n    - {name: a, action: allow}\n", "gateway.yaml:24:8: policy.rules[1].name: rule name \"a\" is already used by the rule at line 23" },
        { "policy:\n  default: allow\n  rules:\n    - {name: a, action: deny, mode: shadow}\n", "policy.rules[0].mode: must be one of: enforce, detect" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Parse_InvalidPolicy_NamesFileLineAndField(string policy, string expected)
    {
        var result = ConfigTestFiles.Parse(Base + policy);

        Assert.Null(result.Config);
        Assert.True(result.Errors.Any(e => e.ToString().Contains(expected, StringComparison.Ordinal)), string.Join('\n', result.Errors));
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsThemAllAtOnce()
    {
        var result = ConfigTestFiles.Parse(Base + """
            policy:
              default: allow
              rules:
                - {action: deny, match: {agents: [nobody]}}
                - {action: allow, match: {upstreams: [nowhere]}}
                - {action: explode}
            """);

        Assert.Equal([23, 24, 25], result.Errors.Select(e => e.Line));
    }

    public static TheoryData<string, string?> Shadowing => new()
    {
        // A catch-all before anything.
        { "- {name: all, action: deny}\n- {name: later, action: allow, match: {tools: [\"fs__*\"]}}", "rule \"later\" can never match: rule \"all\" (line 23)" },
        // A broader tool glob.
        { "- {name: fs, action: allow, match: {tools: [\"fs__*\"]}}\n- {name: write, action: deny, match: {tools: [\"fs__write_*\"]}}", "rule \"write\" can never match: rule \"fs\"" },
        { "- {name: fs, action: allow, match: {upstreams: [fs]}}\n- {name: write, action: deny, match: {upstreams: [fs], agents: [bot]}}", "rule \"write\" can never match" },
        { "- {name: ro, action: allow, match: {annotations: {readOnlyHint: true}}}\n- {name: ro-fs, action: deny, match: {tools: [\"fs__*\"], annotations: {readOnlyHint: true}}}", "rule \"ro-fs\" can never match" },
        // Not shadowed: narrower first, argument conditions, detect mode, rate limits, different upstreams.
        { "- {name: write, action: deny, match: {tools: [\"fs__write_*\"]}}\n- {name: fs, action: allow, match: {tools: [\"fs__*\"]}}", null },
        { "- {name: big, action: deny, match: {arguments: [{path: amount, gt: 5}]}}\n- {name: all, action: allow}", null },
        { "- {name: trial, action: deny, mode: detect}\n- {name: all, action: allow}", null },
        { "- {name: throttle, action: rate_limit, limit: {calls: 5, window: 1m}}\n- {name: all, action: allow}", null },
        { "- {name: fs, action: deny, match: {upstreams: [fs]}}\n- {name: pay, action: allow, match: {upstreams: [pay]}}", null },
        { "- {name: ro, action: allow, match: {annotations: {readOnlyHint: true}}}\n- {name: rw, action: deny, match: {annotations: {readOnlyHint: false}}}", null },
    };

    [Theory]
    [MemberData(nameof(Shadowing))]
    public void Parse_RuleBehindACatchAll_IsReportedAsUnreachable(string rules, string? expected)
    {
        var indented = string.Join('\n', rules.Split('\n').Select(line => "    " + line));
        var result = ConfigTestFiles.Parse(Base + "policy:\n  default: allow\n  rules:\n" + indented + "\n");

        if (expected is null)
        {
            Assert.Empty(result.Errors);
        }
        else
        {
            var error = Assert.Single(result.Errors);
            Assert.Equal(24, error.Line);
            Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        }
    }

    private static GatewayConfig Parse(string policy)
    {
        var result = ConfigTestFiles.Parse(Base + policy);
        Assert.True(result.Errors.Count == 0, string.Join('\n', result.Errors));
        return result.Config!;
    }
}
