using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Slack;
using ApprovalEngine.Notifiers;
using ApprovalEngine.Notifiers.Slack;

namespace ApprovalEngine.Gateway.Tests.Slack;

public sealed class ApprovalCardTests
{
    private const string AwsAccessKey = "AKIA" + "IOSFODNN7EXAMPLE";
    private static readonly Guid Id = Guid.Parse("0198f3c2-7a1b-7c3d-9e8f-0123456789ab");

    private static ApprovalNotice Notice(string status = "pending", string arguments = """{"path": "/tmp/a.txt"}""") => new()
    {
        ApprovalId = Id,
        Version = 3,
        Status = status,
        AgentId = "deploy-bot",
        AgentOwner = "owner@example.com",
        Bundle = "files",
        Upstream = "fs",
        Tool = "write_file",
        Arguments = JsonDocument.Parse(arguments).RootElement.Clone(),
        ArgumentsDigest = "sha256:x",
        Rule = "writes-need-ops",
        Reason = "files change only with a <human>'s yes",
        ApproverGroup = "ops",
        Approvers = ["ops@example.com", "lead@example.com"],
        Quorum = 2,
        Votes = ["lead@example.com"],
        DeadlineAt = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000),
    };

    private static JsonArray Blocks(ApprovalNotice notice, string? arguments = null) => ApprovalCard.Build(new ApprovalCardContent
    {
        Notice = notice,
        ToolName = "fs__write_file",
        Arguments = arguments ?? notice.Arguments.GetRawText(),
        ConsoleUrl = new Uri($"https://approvals.example.com/console/approvals/{Id}"),
    }).Blocks;

    [Fact]
    public void Build_Pending_ShowsEveryFactAndBothButtons()
    {
        var blocks = Blocks(Notice());

        Assert.Equal(["header", "section", "section", "section", "context", "section", "actions"], blocks.Select(b => b!["type"]!.GetValue<string>()));
        Assert.Equal("Approval needed: fs__write_file", blocks[0]!["text"]!["text"]!.GetValue<string>());
        var fields = blocks[1]!["fields"]!.AsArray().Select(f => f!["text"]!.GetValue<string>()).ToList();
        Assert.Equal(
            [
                "*Agent*\n`deploy-bot`", "*Owner*\nowner@example.com", "*Bundle*\n`files`", "*Upstream / tool*\n`fs` / `write_file`",
                "*Rule*\n`writes-need-ops`", "*Deadline*\n<!date^1800000000^{date_short_pretty} {time}|2027-01-15 08:00 UTC>",
                "*Approvers*\nops (ops@example.com, lead@example.com)", "*Quorum*\n1 of 2 approvals (lead@example.com)",
            ],
            fields);
        Assert.Equal("*Why approval is needed*\nfiles change only with a &lt;human&gt;'s yes", blocks[2]!["text"]!["text"]!.GetValue<string>());
        Assert.Equal("*Arguments*\n```{\"path\": \"/tmp/a.txt\"}```", blocks[3]!["text"]!["text"]!.GetValue<string>());
        Assert.Equal($"<https://approvals.example.com/console/approvals/{Id}|Full request in the console> · approval `{Id}`", blocks[4]!["elements"]![0]!["text"]!.GetValue<string>());
        var buttons = blocks[6]!["elements"]!.AsArray();
        Assert.Equal($"approval:{Id:N}:3", blocks[6]!["block_id"]!.GetValue<string>());
        Assert.Equal(
            [("approval.approve", "primary", "Approve"), ("approval.deny", "danger", "Deny")],
            buttons.Select(b => (b!["action_id"]!.GetValue<string>(), b["style"]!.GetValue<string>(), b["text"]!["text"]!.GetValue<string>())));
        Assert.All(buttons, b => Assert.Equal(Id.ToString("D"), b!["value"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("approved", ":white_check_mark: *Approved* by ops@example.com, lead@example.com; the call runs next.")]
    [InlineData("completed", ":white_check_mark: *Approved* by ops@example.com, lead@example.com. The call ran and returned its result.")]
    [InlineData("denied", ":no_entry: *Denied* by ops@example.com, lead@example.com: The call ran and returned its result.")]
    [InlineData("expired", ":alarm_clock: *Expired* — nobody decided by <!date^1800000000^{date_short_pretty} {time}|2027-01-15 08:00 UTC>.")]
    [InlineData("cancelled", ":leftwards_arrow_with_hook: *Withdrawn* by ops@example.com, lead@example.com: The call ran and returned its result.")]
    public void Build_NoLongerOpen_StatusLineAndNoButtons(string status, string line)
    {
        var notice = Notice(status) with { DecidedBy = ["ops@example.com", "lead@example.com"], Outcome = "The call ran and returned its result." };

        var blocks = Blocks(notice);

        Assert.DoesNotContain(blocks, b => b!["type"]!.GetValue<string>() == "actions");
        Assert.Equal(line, blocks[^1]!["text"]!["text"]!.GetValue<string>());
        Assert.StartsWith("Approval request: ", blocks[0]!["text"]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_HugeArguments_TruncatedWithinSlackLimits()
    {
        var huge = new string('<', 10_000) + "```";

        var blocks = Blocks(Notice(), huge);

        var text = blocks[3]!["text"]!["text"]!.GetValue<string>();
        Assert.True(text.Length <= 3000, $"{text.Length} characters");
        Assert.EndsWith("… truncated: 10003 characters in all```", text, StringComparison.Ordinal);
        Assert.DoesNotContain("<", text, StringComparison.Ordinal);
        Assert.Contains("&lt;&lt;\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Mask_SecretsInValuesAndUnderSecretKeys_HiddenAndPrettyPrinted()
    {
        using var arguments = JsonDocument.Parse($$"""{"path": "/etc/app.env", "content": "KEY={{AwsAccessKey}}\nmode=on", "password": "hunter2"}""");

        var text = CardArguments.Mask(arguments.RootElement, new ArgumentRedactor());

        Assert.Equal("""
            {
              "path": "/etc/app.env",
              "content": "KEY=[redacted:secrets.aws_access_key]\nmode=on",
              "password": "[redacted]"
            }
            """.ReplaceLineEndings("\n"), text.ReplaceLineEndings("\n"));
    }
}
