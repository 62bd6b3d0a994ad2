using System.Globalization;

namespace ApprovalEngine.Gateway.Tests.Chaos;

/// <summary>Where in a gated call's life a node is killed with SIGKILL.</summary>
internal enum KillPoint
{
    /// <summary>No node is killed.</summary>
    None,

    /// <summary>The approval is pending and the agent's call is held.</summary>
    WhilePending,

    /// <summary>While the approver's decision requests are in flight (0-25 ms after they are sent).</summary>
    DuringDecision,

    /// <summary>Right after the first decision was answered.</summary>
    AfterDecision,

    /// <summary>The upstream has appended its line and is still inside the call (an approved call only).</summary>
    DuringExecution,

    /// <summary>Right after the approval became final; the agent may or may not have its answer yet.</summary>
    AfterExecution,
}

/// <summary>One decision request: on which node, approve or deny, and its Idempotency-Key (null: the API's default key).</summary>
internal sealed record Click(int Slot, string Verb, string? Key)
{
    public override string ToString() => $"{Verb}@{ChaosCluster.NameOf(Slot)}{(Key is null ? "" : "#" + Key)}";
}

/// <summary>
/// What one iteration does, drawn from the seeded generator before it starts, so that a seed replays the same
/// sequence of plans (the timing of each kill within its point still varies from run to run).
/// </summary>
internal sealed record ChaosPlan(
    int Iteration, int Holder, KillPoint Kill, int Victim, bool VictimRunsTheCall, IReadOnlyList<Click> Clicks, int WriteMilliseconds, int KillDelayMilliseconds, int RetrySeed)
{
    public const string Approve = "approve";
    public const string Deny = "deny";

    /// <summary>Long enough for a kill to land while the upstream waits inside the call; short otherwise, to keep the run short.</summary>
    private const int SlowWrite = 2500;
    private const int QuickWrite = 100;

    public static ChaosPlan Next(Random random, int iteration)
    {
        var holder = random.Next(2);
        var kill = (KillPoint)random.Next(Enum.GetValues<KillPoint>().Length);
        var victim = random.Next(2);
        var runs = random.Next(4) != 0;
        var verb = random.Next(10) < 7 ? Approve : Deny;
        var other = verb == Approve ? Deny : Approve;
        var node = random.Next(2);
        var key = string.Create(CultureInfo.InvariantCulture, $"chaos-{iteration}");
        Click[] clicks = random.Next(4) switch
        {
            // One click.
            0 => [new Click(node, verb, null)],

            // A double click on one node: the same (default) idempotency key, so the second is answered from the first.
            1 => [new Click(node, verb, null), new Click(node, verb, null)],

            // The same decision on both nodes at once, each with a key of its own: one is applied, the other refused.
            2 => [new Click(node, verb, key + "-a"), new Click(1 - node, verb, key + "-b")],

            // Two people's worth of disagreement at once (one approver, two keys): approve on one node, deny on the other.
            _ => [new Click(node, verb, key + "-a"), new Click(1 - node, other, key + "-b")],
        };

        return new ChaosPlan(
            iteration, holder, kill, victim, runs, clicks, kill == KillPoint.DuringExecution ? SlowWrite : QuickWrite, random.Next(26), random.Next());
    }

    public override string ToString()
    {
        var victim = Kill == KillPoint.None ? ""
            : Kill == KillPoint.DuringExecution ? $" {(VictimRunsTheCall ? "the node running the call" : "the node not running it")}"
            : $" {ChaosCluster.NameOf(Victim)}";
        return string.Create(CultureInfo.InvariantCulture,
            $"held on {ChaosCluster.NameOf(Holder)}, kill {Kill}{victim}, clicks [{string.Join(", ", Clicks)}], write {WriteMilliseconds} ms");
    }
}
