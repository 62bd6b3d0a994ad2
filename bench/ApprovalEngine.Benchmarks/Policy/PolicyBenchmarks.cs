using System.Globalization;
using System.Text;
using System.Text.Json;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Policy;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace ApprovalEngine.Benchmarks.Policy;

/// <summary>
/// Policy evaluation per call with <see cref="RuleCount"/> rules, each with three argument conditions (<c>amount gte</c>,
/// <c>currency in</c>, and a <c>memo matches</c> regex that fails except for the deciding rule). See <see cref="Scenario"/>
/// for how many of them reach their conditions. The baseline is the argument digest the gateway computes for every call.
/// </summary>
[MemoryDiagnoser]
public class PolicyBenchmarks
{
    private PolicyEngine engine = null!;
    private PolicyEngine detectorEngine = null!;
    private PolicyCall call = null!;

    [Params(200)]
    public int RuleCount { get; set; }

    /// <summary>
    /// <c>spread</c>: the rules cover 20 tools (10 each, as a real policy spreads over its tools), the call's tool has 10,
    /// decided by the last rule. <c>worst</c>: every rule is for the called tool, so all 200 evaluate their conditions.
    /// </summary>
    [Params("spread", "worst")]
    public string Scenario { get; set; } = "spread";

    public const string Name = "policy";

    public static int Run(string[] args)
    {
        var config = ManualConfig.CreateEmpty()
            .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance))
            .AddLogger(ConsoleLogger.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddColumn(StatisticColumn.Median, StatisticColumn.P95)
            .WithOptions(ConfigOptions.DisableLogFile);
        var summary = BenchmarkSwitcher.FromTypes([typeof(PolicyBenchmarks)]).Run(args, config);
        return summary.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }

    [GlobalSetup]
    public void Setup()
    {
        engine = Build(Policy(RuleCount, detectors: false, Scenario));
        detectorEngine = Build(Policy(RuleCount, detectors: true, Scenario));
        call = new PolicyCall
        {
            Agent = new AgentConfig { Id = "bot", Owner = "owner@example.com", Groups = ["automation"] },
            Bundle = "payments",
            Upstream = "pay",
            ToolName = "pay__send_" + ((RuleCount - 1) % 20).ToString(CultureInfo.InvariantCulture),
            Annotations = new ModelContextProtocol.Protocol.ToolAnnotations { DestructiveHint = true },
            Arguments = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(new JsonObjectText(RuleCount - 1).ToString()),
        };
        var decision = engine.Evaluate(call, null);
        if (decision.RuleName != $"rule-{RuleCount - 1}")
        {
            throw new InvalidOperationException($"The benchmark call should reach the last rule, but {decision.RuleName} decided.");
        }
    }

    /// <summary>What the gateway already does for every call: the canonical digest of the arguments, for scale.</summary>
    [Benchmark(Baseline = true)]
    public string Digest() => ArgumentDigest.Compute(call.Arguments);

    [Benchmark]
    public PolicyDecision Evaluate() => engine.Evaluate(call, null);

    /// <summary>The same, plus one detector scan of the arguments (secrets and PII) that every rule consults.</summary>
    [Benchmark]
    public PolicyDecision EvaluateWithDetectors() => detectorEngine.Evaluate(call, null);

    private static PolicyEngine Build(string policy)
    {
        var result = GatewayConfigLoader.Parse(policy, "bench.yaml", _ => null);
        var config = result.Config ?? throw new InvalidOperationException(string.Join('\n', result.Errors));
        return new PolicyEngine(config.Policy, config.Server.ToolSeparator);
    }

    private static string Policy(int rules, bool detectors, string scenario)
    {
        var yaml = new StringBuilder("""
            upstreams:
              pay: {type: http, url: "http://127.0.0.1:9/mcp"}
            agents:
              bot: {owner: owner@example.com, groups: [automation], keys: ["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}
            bundles:
              payments: {upstreams: [pay], agents: [bot]}
            approvers:
              finance: {members: [finance@example.com]}
            policy:
              default: deny
              approvers: [finance]
              rules:

            """);
        for (var i = 0; i < rules; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"""
                    - name: rule-{i}
                      action: {(i % 2 == 0 ? "approve" : "allow")}
                      match:
                        tools: ["pay__send_{(scenario == "worst" ? "*" : (i % 20).ToString(CultureInfo.InvariantCulture))}"]
                        annotations: {"{"}destructiveHint: true{"}"}
                        arguments:
                          - {"{"}path: $.amount, gte: {i}{"}"}
                          - {"{"}path: $.currency, in: [USD, EUR, GBP]{"}"}
                          - {"{"}path: $.memo, matches: "^INV-{i:D4}$"{"}"}
                        {(detectors ? "detectors: [secrets, pii.iban]" : "")}

                """);
        }

        return yaml.ToString();
    }

    // The call's arguments: a payment whose memo is what the last rule's regex expects.
    private readonly record struct JsonObjectText(int LastRule)
    {
        public override string ToString() => JsonSerializer.Serialize(new
        {
            amount = 1250.5,
            currency = "EUR",
            memo = "INV-" + LastRule.ToString("D4", CultureInfo.InvariantCulture),
            to = new { iban = "DE00 0000 0000 0000 0000 00", name = "ACME GmbH" },
        });
    }
}
