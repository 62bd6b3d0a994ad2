using System.Text.Json;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using static ApprovalEngine.Workflows.Tests.Approval.ApprovalFixtures;

namespace ApprovalEngine.Workflows.Tests.Approval;

/// <summary>
/// <see cref="ApprovalRequest.Notify"/>: a request whose approvers get no cards schedules no notify task on any path,
/// while everything else it schedules (deadlines, the execution) is the same as with cards.
/// </summary>
public sealed class ApprovalMachineNotifyTests
{
    private static readonly DateTimeOffset During = T0.AddMinutes(5);

    public static TheoryData<string> Paths => ["approved and completed", "vote of a quorum of two", "denied", "cancelled", "escalated and expired", "in doubt"];

    [Theory]
    [MemberData(nameof(Paths))]
    public void Apply_RequestWithoutCards_SchedulesNoNotifyTaskOnAnyPath(string path)
    {
        var without = Walk(path, notify: false);
        var with = Walk(path, notify: true);

        Assert.DoesNotContain(without.SelectMany(t => t.Tasks), t => t is ScheduleTask { Kind: TaskKinds.Notify });
        Assert.Contains(with.SelectMany(t => t.Tasks), t => t is ScheduleTask { Kind: TaskKinds.Notify });
        Assert.Equal(Others(with), Others(without));
        Assert.Equal(with.Select(t => t.State!.Status), without.Select(t => t.State!.Status));
    }

    [Fact]
    public void Notify_RequestStoredBeforeTheFlagExisted_IsTrue()
    {
        // Workflows started by an older version have no "notify" in their stored request: they keep getting cards.
        var stored = JsonSerializer.SerializeToNode(Request() with { Notify = false }, WorkflowJson.Options)!.AsObject();
        Assert.True(stored.Remove("notify"));

        var request = stored.Deserialize<ApprovalRequest>(WorkflowJson.Options)!;

        Assert.True(request.Notify);
    }

    private static List<Transition> Walk(string path, bool notify)
    {
        var request = Request(quorum: path == "vote of a quorum of two" ? 2 : 1) with { Notify = notify };
        var start = ApprovalMachine.Start(Id, request, T0);
        var steps = new List<Transition> { start };
        Transition Next(ApprovalInput input, DateTimeOffset at)
        {
            var next = ApprovalMachine.Apply(steps[^1].State!, input, at);
            Assert.Equal(TransitionOutcome.Accepted, next.Outcome);
            steps.Add(next);
            return next;
        }

        switch (path)
        {
            case "approved and completed":
                Next(new Approve(Alice), During);
                Next(new ExecutionStarted(1), During);
                Next(new ExecutionSucceeded(Json("""{"ok":true}""")), During);
                break;
            case "vote of a quorum of two":
                Next(new Approve(Alice), During);
                Next(new Approve(Bob), During);
                break;
            case "denied":
                Next(new Deny(Alice, "no"), During);
                break;
            case "cancelled":
                Next(new Cancel("agent-7", "not needed"), During);
                break;
            case "escalated and expired":
                Next(new DeadlineReached(0), T0 + FinanceTimeout);
                Next(new DeadlineReached(1), T0 + FinanceTimeout + ExecsTimeout);
                break;
            case "in doubt":
                Next(new Approve(Alice), During);
                Next(new ExecutionStarted(1), During);
                Next(new ExecutionOutcomeUnknown("the upstream went away"), During);
                break;
        }

        return steps;
    }

    private static List<string> Others(IEnumerable<Transition> steps) =>
        [.. steps.SelectMany(t => t.Tasks).Where(t => t is not ScheduleTask { Kind: TaskKinds.Notify }).Select(t => t.ToString())];
}
