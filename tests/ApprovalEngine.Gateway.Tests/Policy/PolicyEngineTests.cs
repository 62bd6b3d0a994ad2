using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Gateway.Tests.Configuration;
using ApprovalEngine.Testing;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Policy;

public sealed class PolicyEngineTests
{
    private const string KeyHash = "sha256:605ba8cebd23cbc9d8005ed3c569e1b316aa829555d36f8583ba76f96750b6e4";
    private const string OtherKeyHash = "sha256:705ba8cebd23cbc9d8005ed3c569e1b316aa829555d36f8583ba76f96750b6e4";

    private static readonly ToolAnnotations ReadOnly = new() { ReadOnlyHint = true };

    [Fact]
    public void Evaluate_FirstMatchingRuleDecides_LaterRulesAreNotConsulted()
    {
        var engine = Engine("""
            default: deny
            rules:
              - {name: read, action: allow, match: {tools: ["fs__read_*"]}}
              - {name: block-etc, action: deny, reason: system files, match: {arguments: [{path: path, glob: "/etc/*"}]}}
              - {name: fs, action: allow, match: {upstreams: [fs]}}
            """);

        Assert.Equal(("read", PolicyAction.Allow), Decide(engine, "fs__read_file", """{"path":"/etc/passwd"}"""));
        Assert.Equal(("block-etc", PolicyAction.Deny), Decide(engine, "fs__write_file", """{"path":"/etc/passwd"}"""));
        Assert.Equal(("fs", PolicyAction.Allow), Decide(engine, "fs__write_file", """{"path":"/tmp/x"}"""));
        Assert.Equal(("default", PolicyAction.Deny), Decide(engine, "pay__send", "{}", upstream: "pay"));
        Assert.Equal("system files", engine.Evaluate(Call("fs__write_file", """{"path":"/etc/x"}"""), null).Reason);
    }

    [Theory]
    [InlineData("allow", false, PolicyAction.Allow)]
    [InlineData("deny", true, PolicyAction.Deny)]
    [InlineData("approve", true, PolicyAction.Approve)]
    [InlineData("read-only", true, PolicyAction.Allow)]
    [InlineData("read-only", false, PolicyAction.Approve)]
    public void Evaluate_NoRuleMatches_DefaultDecides(string policyDefault, bool readOnly, PolicyAction expected)
    {
        var engine = Engine($"default: {policyDefault}\napprovers: [ops]\n");

        var decision = engine.Evaluate(Call("fs__write_file", "{}", annotations: readOnly ? ReadOnly : null), null);

        Assert.Equal(expected, decision.Action);
        Assert.Equal("default", decision.RuleName);
        Assert.Equal(expected == PolicyAction.Approve ? ["ops"] : null, decision.Approval?.Approvers);
    }

    [Fact]
    public void Evaluate_TypeMismatchInADenyRule_FallsToTheRestAndNeverCounts()
    {
        // "5000" is a string: the deny rule does not match, and the default (not allow) decides.
        var engine = Engine("""
            default: approve
            approvers: [ops]
            rules:
              - {name: small, action: allow, match: {arguments: [{path: amount, lt: 100}]}}
              - {name: huge, action: deny, match: {arguments: [{path: amount, gt: 1000}]}}
            """);

        Assert.Equal(("small", PolicyAction.Allow), Decide(engine, "pay__send", """{"amount":5}""", upstream: "pay"));
        Assert.Equal(("huge", PolicyAction.Deny), Decide(engine, "pay__send", """{"amount":5000}""", upstream: "pay"));
        Assert.Equal(("default", PolicyAction.Approve), Decide(engine, "pay__send", """{"amount":"5"}""", upstream: "pay"));
        Assert.Equal(("default", PolicyAction.Approve), Decide(engine, "pay__send", """{"amount":"5000"}""", upstream: "pay"));
    }

    [Fact]
    public void Evaluate_AnnotationsAbsent_UseTheMcpDefaults()
    {
        var engine = Engine("""
            default: allow
            rules:
              - {name: destructive, action: deny, match: {annotations: {destructiveHint: true, readOnlyHint: false}}}
            """);

        Assert.Equal(PolicyAction.Deny, engine.Evaluate(Call("fs__write_file", "{}"), null).Action);
        Assert.Equal(PolicyAction.Allow, engine.Evaluate(Call("fs__write_file", "{}", annotations: new ToolAnnotations { DestructiveHint = false }), null).Action);
        Assert.Equal(PolicyAction.Allow, engine.Evaluate(Call("fs__read_file", "{}", annotations: ReadOnly), null).Action);
    }

    [Fact]
    public void Evaluate_IdempotentFromConfiguration_MatchesIdempotentHint()
    {
        var engine = Engine("""
            default: deny
            rules:
              - {name: retryable, action: allow, match: {annotations: {idempotentHint: true}}}
            """);

        Assert.Equal(PolicyAction.Deny, engine.Evaluate(Call("fs__read_file", "{}"), null).Action);
        Assert.Equal(PolicyAction.Allow, engine.Evaluate(Call("fs__read_file", "{}") with { ConfiguredIdempotent = true }, null).Action);
    }

    [Fact]
    public void Evaluate_AgentGroupBundleCriteria_MustAllHold()
    {
        var engine = Engine("""
            default: deny
            rules:
              - {name: automation, action: allow, match: {groups: [automation], bundles: [work]}}
              - {name: named, action: allow, match: {agents: [other]}}
            """);

        Assert.Equal(("automation", PolicyAction.Allow), Decide(engine, "fs__x", "{}"));
        Assert.Equal(("default", PolicyAction.Deny), Decide(engine, "fs__x", "{}", bundle: "play"));
        Assert.Equal(("named", PolicyAction.Allow), Decide(engine, "fs__x", "{}", agent: Other));
    }

    [Fact]
    public void Evaluate_RuleInDetectMode_RecordsItsDecisionAndLetsTheNextRulesDecide()
    {
        var engine = Engine("""
            default: allow
            rules:
              - {name: trial, action: deny, mode: detect, match: {tools: ["fs__write_*"]}}
              - {name: trial2, action: approve, mode: detect, match: {tools: ["fs__*"]}}
            approvers: [ops]
            """);

        var decision = engine.Evaluate(Call("fs__write_file", "{}"), null);

        Assert.Equal((PolicyAction.Allow, "default"), (decision.Action, decision.RuleName));
        Assert.Equal(new ShadowDecision(PolicyAction.Deny, "trial", null), decision.Shadow);
    }

    [Fact]
    public void Evaluate_PolicyInDetectMode_AllowsEverythingAndRecordsTheWouldBeDecision()
    {
        var engine = Engine("""
            default: deny
            mode: detect
            rules:
              - {name: ok, action: allow, match: {tools: ["fs__read_*"]}}
            """);

        var denied = engine.Evaluate(Call("fs__write_file", "{}"), null);
        var allowed = engine.Evaluate(Call("fs__read_file", "{}"), null);

        Assert.Equal((PolicyAction.Allow, PolicyDecision.DetectModeRuleName), (denied.Action, denied.RuleName));
        Assert.Equal((PolicyAction.Deny, "default"), (denied.Shadow!.Action, denied.Shadow.Rule));
        Assert.Equal((PolicyAction.Allow, "ok"), (allowed.Shadow!.Action, allowed.Shadow.Rule));
        Assert.False(engine.AlwaysDenies(Agent, "work", "fs", "fs__write_file", null));
    }

    [Fact]
    public void Evaluate_RateLimit_RefusesOverTheLimitWithRetryAfterThenRecovers()
    {
        var time = new ManualTimeProvider();
        var limits = new RateLimiter(time);
        var engine = Engine("""
            default: allow
            rules:
              - {name: throttle, action: rate_limit, limit: {calls: 2, window: 1m}}
            """);
        var call = Call("fs__write_file", "{}");

        var first = engine.Evaluate(call, limits);
        time.Advance(TimeSpan.FromSeconds(10));
        var second = engine.Evaluate(call, limits);
        var third = engine.Evaluate(call, limits);
        var otherTool = engine.Evaluate(Call("fs__read_file", "{}"), limits);
        var otherAgent = engine.Evaluate(call with { Agent = Other }, limits);
        time.Advance(TimeSpan.FromSeconds(50));
        var afterWindow = engine.Evaluate(call, limits);

        Assert.Equal(PolicyAction.Allow, first.Action);
        Assert.Equal(PolicyAction.Allow, second.Action);
        Assert.Equal(PolicyAction.RateLimit, third.Action);
        Assert.Equal("throttle", third.RuleName);
        Assert.Equal(TimeSpan.FromSeconds(50), third.RetryAfter);
        Assert.Contains("2 call(s) per 1m", third.Reason, StringComparison.Ordinal);
        Assert.Equal(PolicyAction.Allow, otherTool.Action);
        Assert.Equal(PolicyAction.Allow, otherAgent.Action);
        Assert.Equal(PolicyAction.Allow, afterWindow.Action);
    }

    [Fact]
    public void Evaluate_RateLimitInDetectMode_RecordsButAdmits()
    {
        var limits = new RateLimiter(new ManualTimeProvider());
        var engine = Engine("""
            default: allow
            rules:
              - {name: throttle, action: rate_limit, mode: detect, limit: {calls: 1, window: 1h, by: [agent]}}
            """);

        engine.Evaluate(Call("fs__a", "{}"), limits);
        var second = engine.Evaluate(Call("fs__b", "{}"), limits);

        Assert.Equal(PolicyAction.Allow, second.Action);
        Assert.Equal((PolicyAction.RateLimit, "throttle"), (second.Shadow!.Action, second.Shadow.Rule));
    }

    [Fact]
    public void AlwaysDenies_DeniedWhateverTheArguments_OnlyThen()
    {
        var engine = Engine("""
            default: allow
            rules:
              - {name: no-etc, action: deny, match: {tools: ["fs__write_*"], arguments: [{path: path, glob: "/etc/*"}]}}
              - {name: moves-ok-for-ops, action: allow, match: {tools: ["fs__move_*"], agents: [other]}}
              - {name: no-delete, action: deny, match: {tools: ["fs__delete_*", "fs__move_*"]}}
              - {name: pay, action: deny, match: {upstreams: [pay], groups: [automation]}}
            """);

        Assert.False(engine.AlwaysDenies(Agent, "work", "fs", "fs__write_file", null));
        Assert.True(engine.AlwaysDenies(Agent, "work", "fs", "fs__delete_file", null));
        Assert.True(engine.AlwaysDenies(Agent, "work", "fs", "fs__move_file", null));
        Assert.False(engine.AlwaysDenies(Other, "work", "fs", "fs__move_file", null));
        Assert.True(engine.AlwaysDenies(Agent, "work", "pay", "pay__send", null));
        Assert.False(engine.AlwaysDenies(Other, "work", "pay", "pay__send", null));
        Assert.False(engine.AlwaysDenies(Agent, "work", "fs", "fs__read_file", null));
    }

    [Fact]
    public void AlwaysDenies_DefaultDenyOrSwitchedOff_FollowsTheSetting()
    {
        Assert.True(Engine("default: deny\n").AlwaysDenies(Agent, "work", "fs", "fs__x", null));
        Assert.False(Engine("default: deny\nhideDeniedTools: false\n").AlwaysDenies(Agent, "work", "fs", "fs__x", null));
        Assert.False(Engine("default: deny\nrules:\n  - {action: allow, match: {arguments: [{path: a, exists: true}]}}\n").AlwaysDenies(Agent, "work", "fs", "fs__x", null));
    }

    [Fact]
    public void Explain_TracesEveryRuleInOrderWithTheReasons()
    {
        var engine = Engine("""
            default: read-only
            approvers: [ops]
            rules:
              - {name: throttle, action: rate_limit, limit: {calls: 5, window: 1m}}
              - {name: ops-only, action: allow, match: {agents: [other]}}
              - name: big
                action: deny
                reason: too much
                match:
                  tools: ["pay__*"]
                  arguments: [{path: amount, gt: 1000}]
              - {name: trial, action: deny, mode: detect, match: {upstreams: [pay]}}
            """);

        var decision = engine.Explain(Call("pay__send", """{"amount":"2000"}""", upstream: "pay"));

        Assert.Equal(PolicyAction.Approve, decision.Action);
        Assert.Equal(["throttle", "ops-only", "big", "trial", "default"], decision.Trace.Select(t => t.Rule));
        Assert.Equal([1, 2, 3, 4, 0], decision.Trace.Select(t => t.Index));
        Assert.Equal([true, false, false, true, true], decision.Trace.Select(t => t.Matched));
        Assert.StartsWith("counts calls (5 call(s) per 1m)", decision.Trace[0].Effect, StringComparison.Ordinal);
        Assert.Equal(["agent 'bot' is not in [other]"], decision.Trace[1].Checks);
        Assert.Equal(
            ["tool 'pay__send' matches [pay__*]", "$.amount gt 1000 on \"2000\": does not hold: a string cannot be compared with a number"],
            decision.Trace[2].Checks);
        Assert.Equal("detect only: would deny; continues", decision.Trace[3].Effect);
        Assert.Equal("decides: approve", decision.Trace[4].Effect);
        Assert.True(decision.Trace[2].Line > decision.Trace[1].Line);
        Assert.Equal((PolicyAction.Deny, "trial"), (decision.Shadow!.Action, decision.Shadow.Rule));
    }

    [Theory]
    [InlineData("fs__write_file", "{\"path\":\"/etc/x\"}", "fs")]
    [InlineData("fs__write_file", "{\"path\":\"/tmp/x\"}", "fs")]
    [InlineData("fs__read_file", "{}", "fs")]
    [InlineData("pay__send", "{\"amount\":5}", "pay")]
    [InlineData("pay__send", "{\"amount\":\"5\"}", "pay")]
    public void Evaluate_RepeatedAndExplained_AlwaysAgree(string tool, string arguments, string upstream)
    {
        // Deciding skips rules whose who-and-what part cannot match (cached per caller and tool); explaining looks at all.
        var engine = Engine("""
            default: deny
            rules:
              - {name: read, action: allow, match: {tools: ["fs__read_*"], agents: [bot]}}
              - {name: block-etc, action: deny, match: {arguments: [{path: path, glob: "/etc/*"}]}}
              - {name: small, action: allow, match: {upstreams: [pay], groups: [automation], arguments: [{path: amount, lt: 10}]}}
              - {name: fs, action: allow, match: {upstreams: [fs], bundles: [work]}}
            """);
        var call = Call(tool, arguments, upstream);

        var first = engine.Evaluate(call, null);
        var second = engine.Evaluate(call, null);
        var explained = engine.Explain(call);
        var other = engine.Evaluate(call with { Agent = Other }, null);
        var otherExplained = engine.Explain(call with { Agent = Other });

        Assert.Equal((first.Action, first.RuleName), (second.Action, second.RuleName));
        Assert.Equal((first.Action, first.RuleName), (explained.Action, explained.RuleName));
        Assert.Equal((other.Action, other.RuleName), (otherExplained.Action, otherExplained.RuleName));
    }

    private static readonly AgentConfig Agent = new() { Id = "bot", Owner = "alice@example.com", Groups = ["automation"] };
    private static readonly AgentConfig Other = new() { Id = "other", Owner = "bob@example.com" };

    private static (string, PolicyAction) Decide(PolicyEngine engine, string tool, string arguments, string upstream = "fs", string bundle = "work", AgentConfig? agent = null)
    {
        var decision = engine.Evaluate(Call(tool, arguments, upstream, bundle, agent), null);
        return (decision.RuleName, decision.Action);
    }

    internal static PolicyCall Call(string tool, string arguments, string upstream = "fs", string bundle = "work", AgentConfig? agent = null, ToolAnnotations? annotations = null) => new()
    {
        Agent = agent ?? Agent,
        Bundle = bundle,
        Upstream = upstream,
        ToolName = tool,
        Annotations = annotations,
        Arguments = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(arguments),
    };

    /// <summary>A policy section (unindented) inside a configuration with agents bot and other, upstreams fs and pay.</summary>
    internal static PolicyEngine Engine(string policy)
    {
        var indented = string.Join('\n', policy.Split('\n').Select(line => "  " + line));
        var result = ConfigTestFiles.Parse($$"""
            upstreams:
              fs: {type: stdio, command: npx}
              pay: {type: http, url: "http://127.0.0.1:9000/mcp"}
            agents:
              bot: {owner: alice@example.com, groups: [automation], keys: [{{KeyHash}}]}
              other: {owner: bob@example.com, keys: [{{OtherKeyHash}}]}
            bundles:
              work: {upstreams: [fs, pay], agents: [bot, other]}
              play: {upstreams: [fs], agents: [bot]}
            approvers:
              ops: {members: [carol@example.com]}
            policy:
            {{indented}}
            """);
        Assert.True(result.Errors.Count == 0, string.Join('\n', result.Errors));
        return new PolicyEngine(result.Config!.Policy);
    }
}
