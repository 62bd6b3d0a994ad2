using System.Globalization;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Notifiers.Slack;

/// <summary>What the card shows besides the notice: the names and text the gateway prepares.</summary>
public sealed record ApprovalCardContent
{
    public required ApprovalNotice Notice { get; init; }

    /// <summary>The tool as the agent called it (<c>fs__write_file</c>).</summary>
    public required string ToolName { get; init; }

    /// <summary>The arguments as pretty-printed JSON with secrets already masked; the card truncates it.</summary>
    public required string Arguments { get; init; }

    /// <summary>The approval in the web console, when the gateway knows its public URL.</summary>
    public Uri? ConsoleUrl { get; init; }
}

/// <summary>
/// The Block Kit card of an approval. The same builder renders every state, so <c>chat.update</c> replaces the whole
/// card: Approve and Deny buttons while a decision is possible, a status line with the outcome after.
/// </summary>
public static class ApprovalCard
{
    public const string ApproveAction = "approval.approve";
    public const string DenyAction = "approval.deny";

    /// <summary>Section text may hold 3000 characters; this leaves room for the label, fences and the truncation note.</summary>
    public const int MaxArgumentsChars = 2500;

    private const int MaxHeaderChars = 150;
    private const int MaxFieldChars = 2000;

    public static SlackMessage Build(ApprovalCardContent content)
    {
        var notice = content.Notice;
        var open = IsOpen(notice.Status);
        var blocks = new JsonArray
        {
            new JsonObject
            {
                ["type"] = "header",
                ["text"] = PlainText(Limit((open ? "Approval needed: " : "Approval request: ") + content.ToolName, MaxHeaderChars)),
            },
            new JsonObject
            {
                ["type"] = "section",
                ["fields"] = new JsonArray(
                    Field("Agent", Code(notice.AgentId)),
                    Field("Owner", Escape(notice.AgentOwner ?? "unknown")),
                    Field("Bundle", Code(notice.Bundle)),
                    Field("Upstream / tool", $"{Code(notice.Upstream)} / {Code(notice.Tool)}"),
                    Field("Rule", notice.Rule is null ? "default" : Code(notice.Rule)),
                    Field("Deadline", Date(notice.DeadlineAt)),
                    Field("Approvers", $"{Escape(notice.ApproverGroup)} ({Escape(string.Join(", ", notice.Approvers))})"),
                    Field("Quorum", Quorum(notice))),
            },
        };

        if (!string.IsNullOrWhiteSpace(notice.Reason))
        {
            blocks.Add(Section($"*Why approval is needed*\n{Escape(notice.Reason)}"));
        }

        blocks.Add(Section($"*Arguments*\n```{Arguments(content.Arguments)}```"));
        blocks.Add(new JsonObject
        {
            ["type"] = "context",
            ["elements"] = new JsonArray(Mrkdwn(content.ConsoleUrl is { } url
                ? $"<{url}|Full request in the console> · approval `{notice.ApprovalId:D}`"
                : $"Approval `{notice.ApprovalId:D}`")),
        });
        blocks.Add(Section(Status(notice)));
        if (open)
        {
            blocks.Add(Buttons(notice));
        }

        return new SlackMessage(FallbackText(content, open), blocks);
    }

    /// <summary>pending and escalated accept decisions; every other state shows the outcome without buttons.</summary>
    public static bool IsOpen(string status) => status is "pending" or "escalated";

    /// <summary>The one-line outcome every viewer sees, in every state.</summary>
    public static string Status(ApprovalNotice notice)
    {
        var who = Escape(notice.DecidedBy.Count == 0 ? "nobody" : string.Join(", ", notice.DecidedBy));
        var outcome = string.IsNullOrWhiteSpace(notice.Outcome) ? "" : " " + Escape(notice.Outcome);
        return notice.Status switch
        {
            "pending" => $":hourglass_flowing_sand: *Pending* — waiting for {Escape(notice.ApproverGroup)}, {Quorum(notice)}.",
            "escalated" => $":rotating_light: *Escalated* to {Escape(notice.ApproverGroup)} — {Quorum(notice)}.",
            "approved" => $":white_check_mark: *Approved* by {who}; the call runs next.",
            "executing" => $":gear: *Approved* by {who}; the call is running.",
            "completed" => $":white_check_mark: *Approved* by {who}.{outcome}",
            "failed" => $":x: *Approved* by {who}.{outcome}",
            "in_doubt" => $":warning: *Approved* by {who}.{outcome}",
            "denied" => $":no_entry: *Denied* by {who}{Because(notice)}",
            "expired" => $":alarm_clock: *Expired* — nobody decided by {Date(notice.DeadlineAt)}.",
            "cancelled" => $":leftwards_arrow_with_hook: *Withdrawn* by {who}{Because(notice)}",
            _ => $"*{Escape(notice.Status)}*",
        };
    }

    /// <summary>Escapes the three characters Slack's mrkdwn treats as control characters.</summary>
    public static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal);

    // For a denial or withdrawal the notice's outcome is the decider's reason.
    private static string Because(ApprovalNotice notice) =>
        string.IsNullOrWhiteSpace(notice.Outcome) ? "." : ": " + Escape(notice.Outcome);

    private static JsonObject Buttons(ApprovalNotice notice) => new()
    {
        ["type"] = "actions",

        // A new block id per version: Slack keeps interactive state per block, and a reused id can show a stale one.
        ["block_id"] = string.Create(CultureInfo.InvariantCulture, $"approval:{notice.ApprovalId:N}:{notice.Version}"),
        ["elements"] = new JsonArray(
            Button("Approve", ApproveAction, "primary", notice.ApprovalId),
            Button("Deny", DenyAction, "danger", notice.ApprovalId)),
    };

    // The value names the approval; it is never authority: who may decide is checked against the approval itself.
    private static JsonObject Button(string label, string actionId, string style, Guid approvalId) => new()
    {
        ["type"] = "button",
        ["text"] = PlainText(label),
        ["action_id"] = actionId,
        ["value"] = approvalId.ToString("D"),
        ["style"] = style,
    };

    private static string Quorum(ApprovalNotice notice)
    {
        var progress = string.Create(CultureInfo.InvariantCulture, $"{notice.Votes.Count} of {notice.Quorum} approval{(notice.Quorum == 1 ? "" : "s")}");
        return notice.Votes.Count == 0 ? progress : $"{progress} ({Escape(string.Join(", ", notice.Votes))})";
    }

    private static string FallbackText(ApprovalCardContent content, bool open)
    {
        var notice = content.Notice;
        var text = open
            ? $"Approval needed: agent {notice.AgentId} wants to call {content.ToolName}"
            : $"Approval request of agent {notice.AgentId} for {content.ToolName}: {notice.Status}";
        return Escape(text);
    }

    // Escaped and fenced first, then cut: the limit is Slack's, on the text it receives.
    private static string Arguments(string arguments)
    {
        var text = Fence(Escape(arguments));
        if (text.Length <= MaxArgumentsChars)
        {
            return text;
        }

        var cut = MaxArgumentsChars;
        if (char.IsHighSurrogate(text[cut - 1]))
        {
            cut--;
        }

        // Never leave half an entity (&am) behind.
        var amp = text.LastIndexOf('&', cut - 1, Math.Min(cut, 5));
        if (amp >= 0 && text.IndexOf(';', amp, cut - amp) < 0)
        {
            cut = amp;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{text.AsSpan(0, cut)}\n… truncated: {arguments.Length} characters in all");
    }

    // A ``` inside the arguments would end the code block early; a zero-width space keeps it visible but inert.
    private static string Fence(string text) => text.Replace("```", "``\u200B`", StringComparison.Ordinal);

    // Slack renders <!date^...> in each viewer's time zone; the fallback is for clients that cannot.
    private static string Date(DateTimeOffset at) => string.Create(CultureInfo.InvariantCulture,
        $"<!date^{at.ToUnixTimeSeconds()}^{{date_short_pretty}} {{time}}|{at.UtcDateTime:yyyy-MM-dd HH:mm} UTC>");

    private static string Code(string text) => $"`{Escape(text).Replace("`", "'", StringComparison.Ordinal)}`";

    private static JsonObject Field(string label, string value) => Mrkdwn(Limit($"*{label}*\n{value}", MaxFieldChars));

    private static JsonObject Section(string text) => new() { ["type"] = "section", ["text"] = Mrkdwn(text) };

    private static JsonObject Mrkdwn(string text) => new() { ["type"] = "mrkdwn", ["text"] = text };

    internal static JsonObject PlainText(string text) => new() { ["type"] = "plain_text", ["text"] = text, ["emoji"] = true };

    private static string Limit(string text, int max) => text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 1), "…");
}
