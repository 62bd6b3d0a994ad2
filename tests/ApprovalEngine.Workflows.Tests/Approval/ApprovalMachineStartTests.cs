using System.Text.Json.Nodes;
using ApprovalEngine.Workflows.Approval;
using static ApprovalEngine.Workflows.Tests.Approval.ApprovalFixtures;

namespace ApprovalEngine.Workflows.Tests.Approval;

public sealed class ApprovalMachineStartTests
{
    [Fact]
    public void Start_ValidRequest_PendingAtStageZeroWithDeadline()
    {
        var request = Request();

        var transition = ApprovalMachine.Start(Id, request, T0);

        Assert.Equal(TransitionOutcome.Accepted, transition.Outcome);
        var state = transition.State!;
        Assert.Equal(Id, state.Id);
        Assert.Same(request, state.Request);
        Assert.Equal(ApprovalStatus.Pending, state.Status);
        Assert.Equal(0, state.Stage);
        Assert.Equal(T0, state.CreatedAt);
        Assert.Equal(T0 + FinanceTimeout, state.DeadlineAt);
        Assert.Empty(state.Votes);
        Assert.Empty(state.DecidedBy);
        Assert.Null(state.DecidedAt);
    }

    [Fact]
    public void Start_ValidRequest_EmitsRequestedEvent()
    {
        var transition = ApprovalMachine.Start(Id, Request(quorum: 2), T0);

        var e = Assert.Single(transition.Events);
        Assert.Equal("requested", e.Type);
        Assert.Equal("agent-7", e.Actor);
        Assert.Equal("agent-7", (string?)e.Body["agent"]);
        Assert.Equal(Owner, (string?)e.Body["owner"]);
        Assert.Equal("payments", (string?)e.Body["bundle"]);
        Assert.Equal("bank", (string?)e.Body["upstream"]);
        Assert.Equal("transfer", (string?)e.Body["tool"]);
        Assert.Equal(OriginalDigest, (string?)e.Body["argumentsDigest"]);
        Assert.Equal("large-transfer", (string?)e.Body["rule"]);
        Assert.Equal("amount over limit", (string?)e.Body["reason"]);
        Assert.Equal("finance", (string?)e.Body["group"]);
        Assert.Equal([Alice, Bob, Owner], e.Body["approvers"]!.AsArray().Select(n => (string?)n));
        Assert.Equal(2, (int?)e.Body["quorum"]);
        Assert.Equal(T0 + FinanceTimeout, e.Body["deadlineAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal("execs", (string?)e.Body["escalateTo"]);
    }

    [Fact]
    public void Start_WithoutEscalation_OmitsEscalateTo()
    {
        var transition = ApprovalMachine.Start(Id, Request(escalate: false), T0);

        Assert.False(Assert.Single(transition.Events).Body.ContainsKey("escalateTo"));
    }

    [Fact]
    public void Start_ValidRequest_SchedulesDeadlineAndNotify()
    {
        var transition = ApprovalMachine.Start(Id, Request(), T0);

        Assert.Equal(2, transition.Tasks.Count);
        var deadline = Assert.IsType<ScheduleTask>(transition.Tasks[0]);
        Assert.Equal(TaskKinds.Deadline, deadline.Kind);
        Assert.Equal(T0 + FinanceTimeout, deadline.RunAt);
        Assert.Equal("deadline:0", deadline.DedupKey);
        Assert.False(deadline.AtMostOnce);
        Assert.Equal(0, (int?)deadline.Args!["stage"]);

        var notify = Assert.IsType<ScheduleTask>(transition.Tasks[1]);
        Assert.Equal(TaskKinds.Notify, notify.Kind);
        Assert.Equal(T0, notify.RunAt);
        Assert.Equal("notify:pending:0:0", notify.DedupKey);
        Assert.False(notify.AtMostOnce);
        Assert.Null(notify.Args);
    }

    [Fact]
    public void Start_DuplicateApproversInOtherCase_CountOnce()
    {
        var request = Request(quorum: 2) with
        {
            Approvers = new ApproverStage { Group = "finance", Approvers = [Alice, " ALICE@x.com "], Timeout = FinanceTimeout },
            EscalateTo = null,
        };

        var transition = ApprovalMachine.Start(Id, request, T0);

        Assert.Equal(RejectionCode.InvalidRequest, transition.Code);
        Assert.Contains("quorum 2 exceeds the 1 approvers of group 'finance'", transition.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> InvalidRequests() => new()
    {
        { "agentId", "agentId must not be empty" },
        { "bundle", "bundle must not be empty" },
        { "upstream", "upstream must not be empty" },
        { "tool", "tool must not be empty" },
        { "argumentsDigest", "argumentsDigest must not be empty" },
        { "noApprovers", "approvers of group 'finance' must not be empty" },
        { "blankApprover", "approvers.approvers[1] of group 'finance' is blank" },
        { "zeroTimeout", "approvers.timeout 00:00:00 of group 'finance' must be positive" },
        { "negativeTimeout", "approvers.timeout -00:01:00 of group 'finance' must be positive" },
        { "zeroQuorum", "quorum 0 must be at least 1" },
        { "quorumTooLarge", "quorum 4 exceeds the 3 approvers of group 'finance'" },
        { "escalationEmpty", "escalateTo.approvers of escalation group 'execs' must not be empty" },
        { "escalationBlank", "escalateTo.approvers[0] of escalation group 'execs' is blank" },
        { "escalationTimeout", "escalateTo.timeout 00:00:00 of escalation group 'execs' must be positive" },
        { "escalationQuorum", "quorum 3 exceeds the 2 approvers of escalation group 'execs'" },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public void Start_InvalidRequest_RejectedNamingFieldAndValue(string defect, string expectedMessage)
    {
        var transition = ApprovalMachine.Start(Id, Broken(defect), T0);

        Assert.Equal(TransitionOutcome.Rejected, transition.Outcome);
        Assert.Equal(RejectionCode.InvalidRequest, transition.Code);
        Assert.Null(transition.State);
        Assert.Empty(transition.Events);
        Assert.Empty(transition.Tasks);
        Assert.Contains(expectedMessage, transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_SeveralDefects_ReportsAllAtOnce()
    {
        var request = Request() with { Tool = "", Quorum = 0 };

        var transition = ApprovalMachine.Start(Id, request, T0);

        Assert.Contains("tool must not be empty", transition.Message, StringComparison.Ordinal);
        Assert.Contains("quorum 0 must be at least 1", transition.Message, StringComparison.Ordinal);
    }

    private static ApprovalRequest Broken(string defect)
    {
        var request = Request();
        var finance = request.Approvers;
        var execs = request.EscalateTo!;
        return defect switch
        {
            "agentId" => request with { AgentId = " " },
            "bundle" => request with { Bundle = "" },
            "upstream" => request with { Upstream = "" },
            "tool" => request with { Tool = "" },
            "argumentsDigest" => request with { ArgumentsDigest = "" },
            "noApprovers" => request with { Approvers = finance with { Approvers = [] } },
            "blankApprover" => request with { Approvers = finance with { Approvers = [Alice, "  "] } },
            "zeroTimeout" => request with { Approvers = finance with { Timeout = TimeSpan.Zero } },
            "negativeTimeout" => request with { Approvers = finance with { Timeout = TimeSpan.FromMinutes(-1) } },
            "zeroQuorum" => request with { Quorum = 0 },
            "quorumTooLarge" => request with { Quorum = 4 },
            "escalationEmpty" => request with { EscalateTo = execs with { Approvers = [] } },
            "escalationBlank" => request with { EscalateTo = execs with { Approvers = ["", Carol] } },
            "escalationTimeout" => request with { EscalateTo = execs with { Timeout = TimeSpan.Zero } },
            "escalationQuorum" => request with { Quorum = 3 },
            _ => throw new ArgumentOutOfRangeException(nameof(defect), defect, null),
        };
    }

    [Fact]
    public void Start_SameInputs_SameTransition()
    {
        var request = Request();

        var first = ApprovalMachine.Start(Id, request, T0);
        var second = ApprovalMachine.Start(Id, request, T0);

        Assert.Equal(first.State, second.State);
        Assert.Equal(first.Tasks.OfType<ScheduleTask>().Select(t => t.DedupKey), second.Tasks.OfType<ScheduleTask>().Select(t => t.DedupKey));
        Assert.Equal(
            first.Events.Select(e => e.Body.ToJsonString()),
            second.Events.Select(e => e.Body.ToJsonString()));
    }

    [Fact]
    public void StatusName_EveryStatus_RoundTripsThroughParseStatus()
    {
        var names = Enum.GetValues<ApprovalStatus>().Select(ApprovalMachine.StatusName).ToList();

        Assert.Equal(
            ["pending", "escalated", "approved", "denied", "expired", "cancelled", "executing", "completed", "failed", "in_doubt"],
            names);
        Assert.Equal(Enum.GetValues<ApprovalStatus>(), names.Select(ApprovalMachine.ParseStatus));
    }

    [Theory]
    [InlineData("Pending")]
    [InlineData("indoubt")]
    [InlineData("")]
    public void ParseStatus_UnknownName_Throws(string name)
    {
        var error = Assert.Throws<FormatException>(() => ApprovalMachine.ParseStatus(name));
        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_RequestedEventBody_IsSerializableJson()
    {
        var body = Assert.Single(ApprovalMachine.Start(Id, Request(), T0).Events).Body;

        var reparsed = JsonNode.Parse(body.ToJsonString())!.AsObject();

        Assert.Equal(T0 + FinanceTimeout, reparsed["deadlineAt"]!.GetValue<DateTimeOffset>());
    }
}
