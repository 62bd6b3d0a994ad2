using System.Diagnostics;
using System.Globalization;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Tests.Approvals;
using ApprovalEngine.Gateway.Verification;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using Xunit.Abstractions;

namespace ApprovalEngine.Gateway.Tests.Chaos;

/// <summary>
/// Chaos runs: gated calls of a non-idempotent tool through two real gateway processes on one database, with a node
/// killed (SIGKILL) at a random point of most calls and started again, decisions clicked twice or on both nodes at
/// once, and the agent calling again until it has a final answer. The invariants are checked after every iteration
/// (<see cref="ChaosInvariants"/>), and every history chain and audit stream is verified at the end. The plans come
/// from a seeded generator: the seed is printed, and <c>APPROVAL_ENGINE_CHAOS_SEED</c> replays it
/// (<c>APPROVAL_ENGINE_CHAOS_ITERATIONS</c> changes the count, 50 by default).
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    private const string SeedVariable = "APPROVAL_ENGINE_CHAOS_SEED";
    private const string IterationsVariable = "APPROVAL_ENGINE_CHAOS_ITERATIONS";
    private const int DefaultIterations = 50;

    // About 3-5 s an iteration on the 2-core machine, most of it a killed node's restart; the bound leaves room for load.
    private static readonly TimeSpan TestTimeout = TimeSpan.FromMinutes(15);

    // Short leases, as in the durability tests, so that a dead node's execute task is settled within seconds.
    private static readonly Dictionary<string, string> NodeSettings = new()
    {
        ["ApprovalEngine:Runtime:LeaseDuration"] = "00:00:01.500",
        ["ApprovalEngine:Runtime:ReaperInterval"] = "00:00:00.250",
    };

    [Fact]
    public async Task CallTool_NodesKilledAtRandomPoints_NoApprovalLostNoDecisionOrCallAppliedTwiceAndEveryChainVerifies()
    {
        var seed = Setting(SeedVariable) ?? Random.Shared.Next();
        var iterations = Setting(IterationsVariable) ?? DefaultIterations;
        output.WriteLine($"Chaos seed {seed}, {iterations} iterations (replay: {SeedVariable}={seed})");
        using var timeout = new CancellationTokenSource(TestTimeout);
        var ct = timeout.Token;
        var clock = Stopwatch.StartNew();

        await using var scene = await DurabilityScene.CreateAsync(
            _ => $$"""
                  fx:
                    type: stdio
                    command: {{NodePeers.Node}}
                    args: {{DurabilityScene.YamlList([Path.Combine(NodePeers.PeersDirectory, "upstream-fixtures", "fixture-server.mjs"), "stdio"])}}
                """,
            ["fx"],
            """
                    - {name: slow-writes, action: approve, match: {tools: [fx__slow-write]}}
                """,
            output);
        var writes = Directory.CreateDirectory(Path.Combine(scene.Directory, "writes")).FullName;
        await using var cluster = new ChaosCluster(scene, NodeSettings, output);
        using var approver = new ChaosApprover(scene.ApproverToken);
        await cluster.StartAsync(ct);

        var random = new Random(seed);
        var runs = new List<ChaosRun>();
        for (var i = 1; i <= iterations; i++)
        {
            var plan = ChaosPlan.Next(random, i);
            try
            {
                var run = await new ChaosIteration(scene, cluster, approver, plan, writes).RunAsync(ct);
                await ChaosInvariants.CheckAsync(scene, run, ct);
                runs.Add(run);
                output.WriteLine(Line(run));
            }
            catch (Exception)
            {
                output.WriteLine($"FAILED in iteration {i} ({plan}); replay with {SeedVariable}={seed}");
                throw;
            }
        }

        // Every chain of the run, and the tool-call audit streams of every node process (killed ones included).
        var check = new ChainCheck(scene.Runtime, new ToolCallAuditVerifier(scene.Database));
        var broken = new List<string>();
        var summary = await check.RunAsync(null, null,
            chain =>
            {
                if (!chain.Valid)
                {
                    broken.Add($"workflow {chain.WorkflowId} at {chain.FirstBadSeq}: {chain.Problem}");
                }

                return ValueTask.CompletedTask;
            },
            stream =>
            {
                if (!stream.Valid)
                {
                    broken.Add($"audit stream {stream.StreamId} ({stream.Node}): {string.Join("; ", stream.Problems.Select(p => p.ToString()))}");
                }

                return ValueTask.CompletedTask;
            },
            ct);

        var figures = Figures(seed, runs, cluster.Kills, summary, clock.Elapsed);
        output.WriteLine(figures);
        TestFigures.Report("chaos runs, two gateway nodes, SIGKILL at random points", figures, output);
        Assert.True(summary.Valid, $"Broken: {string.Join("\n", broken)}");
        Assert.Equal(iterations + runs.Sum(r => r.ReAsked.Count), summary.Workflows);
        Assert.True(summary.Streams >= 2 && summary.Records > 0, $"Audit: {summary}");
    }

    private static string Line(ChaosRun run) => string.Create(CultureInfo.InvariantCulture,
        $"#{run.Plan.Iteration:00} {run.Plan} → {ApprovalMachine.StatusName(run.Final.State.Status)}, {ChaosIteration.Lines(run.Path)} line(s); " +
        $"kills: {ChaosInvariants.Kills(run)}; answers: {string.Join(", ", run.Answers)}; agent: {run.AgentAttempts} call(s)" +
        $"{(run.ReAsked.Count > 0 ? $", asked anew {run.ReAsked.Count}× (denied)" : "")}; {run.Elapsed.TotalSeconds:0.0} s");

    private static string Figures(int seed, List<ChaosRun> runs, int kills, ChainCheckSummary summary, TimeSpan elapsed)
    {
        string Count<T>(IEnumerable<T> items) => string.Join(", ", items.GroupBy(x => x).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"seed {seed}: {runs.Count} iterations, {kills} SIGKILLs ({Count(runs.SelectMany(r => r.Kills).Select(k => k.Point))}); " +
            $"outcomes: {Count(runs.Select(r => ApprovalMachine.StatusName(r.Final.State.Status)))}; " +
            $"double or conflicting clicks {runs.Count(r => r.Plan.Clicks.Count > 1)}, clicks unanswered {runs.Sum(r => r.Answers.Count(a => !a.Answered))}; " +
            $"agent calls again {runs.Sum(r => r.AgentAttempts - 1)}, asked anew after a lost answer {runs.Sum(r => r.ReAsked.Count)}; " +
            $"verified {summary.Workflows} chains and {summary.Streams} audit streams ({summary.Records} records); {elapsed.TotalSeconds:0} s in all");
    }

    private static int? Setting(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : null;
}
