using System.Text.Json;
using ApprovalEngine.Workflows.Approval;
using static ApprovalEngine.Workflows.Tests.Approval.ApprovalFixtures;

namespace ApprovalEngine.Workflows.Tests.Approval;

public sealed class ApprovalMachineEditTests
{
    private static readonly DateTimeOffset During = T0.AddMinutes(10);
    private static readonly JsonElement Edited = Json("""{"amount":5}""");

    [Fact]
    public void Approve_EditAllowed_ApprovesEditedArguments()
    {
        var transition = ApprovalMachine.Apply(Started(Request(allowEdits: true)), new Approve(Alice, Edited, EditedDigest), During);

        var approved = transition.State!;
        Assert.Equal(ApprovalStatus.Approved, approved.Status);
        Assert.Equal(EditedDigest, approved.EditedArgumentsDigest);
        Assert.Equal(5, approved.EffectiveArguments.GetProperty("amount").GetInt32());
        Assert.Equal(EditedDigest, Assert.Single(approved.Votes).ArgumentsDigest);
        var body = transition.Events.Single(e => e.Type == "approved").Body;
        Assert.True((bool)body["edited"]!);
        Assert.Equal(EditedDigest, (string?)body["argumentsDigest"]);
        Assert.Equal(OriginalDigest, (string?)body["originalArgumentsDigest"]);
    }

    [Fact]
    public void Approve_EditNotAllowed_EditNotAllowed()
    {
        var pending = Started(Request(allowEdits: false));

        var transition = ApprovalMachine.Apply(pending, new Approve(Alice, Edited, EditedDigest), During);

        Assert.Equal(RejectionCode.EditNotAllowed, transition.Code);
        Assert.Same(pending, transition.State);
        Assert.Contains("'transfer'", transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Approve_DigestOnlyWhenEditsNotAllowed_EditNotAllowed()
    {
        var transition = ApprovalMachine.Apply(Started(Request(allowEdits: false)), new Approve(Alice, EditedArgumentsDigest: EditedDigest), During);

        Assert.Equal(RejectionCode.EditNotAllowed, transition.Code);
    }

    [Fact]
    public void Approve_EditedArgumentsWithoutDigest_InvalidRequest()
    {
        var transition = ApprovalMachine.Apply(Started(Request(allowEdits: true)), new Approve(Alice, Edited), During);

        Assert.Equal(RejectionCode.InvalidRequest, transition.Code);
        Assert.Contains("digest", transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Approve_DigestWithoutEditedArguments_InvalidRequest()
    {
        var transition = ApprovalMachine.Apply(Started(Request(allowEdits: true)), new Approve(Alice, EditedArgumentsDigest: EditedDigest), During);

        Assert.Equal(RejectionCode.InvalidRequest, transition.Code);
    }

    [Fact]
    public void Approve_SecondVoteForOriginalAfterEdit_EditConflict()
    {
        var voted = Step(Started(Request(quorum: 2, allowEdits: true)), new Approve(Alice, Edited, EditedDigest), During);
        Assert.Equal(ApprovalStatus.Pending, voted.Status);
        Assert.Equal(EditedDigest, voted.EditedArgumentsDigest);

        var transition = ApprovalMachine.Apply(voted, new Approve(Bob), During.AddMinutes(1));

        Assert.Equal(RejectionCode.EditConflict, transition.Code);
        Assert.Same(voted, transition.State);
        Assert.Contains(OriginalDigest, transition.Message, StringComparison.Ordinal);
        Assert.Contains(EditedDigest, transition.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Approve_EditAfterVoteForOriginal_EditConflict()
    {
        var voted = Step(Started(Request(quorum: 2, allowEdits: true)), new Approve(Alice), During);

        var transition = ApprovalMachine.Apply(voted, new Approve(Bob, Edited, EditedDigest), During.AddMinutes(1));

        Assert.Equal(RejectionCode.EditConflict, transition.Code);
    }

    [Fact]
    public void Approve_SecondVoteWithSameEdit_ApprovesEditedArguments()
    {
        var voted = Step(Started(Request(quorum: 2, allowEdits: true)), new Approve(Alice, Edited, EditedDigest), During);

        var approved = Step(voted, new Approve(Bob, Edited, EditedDigest), During.AddMinutes(1));

        Assert.Equal(ApprovalStatus.Approved, approved.Status);
        Assert.Equal(EditedDigest, approved.EditedArgumentsDigest);
        Assert.All(approved.Votes, v => Assert.Equal(EditedDigest, v.ArgumentsDigest));
    }

    [Fact]
    public void Approve_EditWithOriginalDigest_NotMarkedEdited()
    {
        var transition = ApprovalMachine.Apply(Started(Request(allowEdits: true)),
            new Approve(Alice, Json("""{"amount":10}"""), OriginalDigest), During);

        Assert.Null(transition.State!.EditedArgumentsDigest);
        Assert.False((bool)transition.Events.Single(e => e.Type == "approved").Body["edited"]!);
    }
}
