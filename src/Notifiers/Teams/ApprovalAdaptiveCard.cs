using System.Globalization;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Notifiers.Teams;

/// <summary>What the Teams card shows besides the notice: everything the card builder cannot know by itself.</summary>
public sealed record TeamsCardContent
{
    public required ApprovalNotice Notice { get; init; }

    /// <summary>The namespaced tool name the agent called (<c>fs__write_file</c>).</summary>
    public required string ToolName { get; init; }

    /// <summary>The arguments as JSON text, already redacted and truncated.</summary>
    public required string Arguments { get; init; }

    public Uri? ConsoleUrl { get; init; }

    /// <summary>Teams user ids (<c>29:…</c>) of the approvers: their clients refresh the card and get the buttons.</summary>
    public IReadOnlyList<string> ApproverUserIds { get; init; } = [];

    /// <summary>A line for the person who clicked only (the invoke response), such as "Nothing changed: …".</summary>
    public string? Note { get; init; }
}

/// <summary>
/// The approval as an Adaptive Card 1.5. Everyone sees the facts; while the approval is open the card asks the
/// approvers' clients to refresh it (<c>refresh.userIds</c>), and the refreshed card they get back carries the
/// Approve and Deny <c>Action.Execute</c> buttons, so only approvers ever see them.
/// </summary>
public static class ApprovalAdaptiveCard
{
    public const string ContentType = "application/vnd.microsoft.card.adaptive";
    public const string ErrorType = "application/vnd.microsoft.error";
    public const string Version = "1.5";
    public const string ApproveVerb = "approval.approve";
    public const string DenyVerb = "approval.deny";
    public const string RefreshVerb = "approval.refresh";
    public const string ReasonInput = "reason";

    /// <summary>Teams refreshes for at most 60 listed users.</summary>
    public const int MaxRefreshUsers = 60;

    private const int MaxArgumentChars = 3000;

    public static bool IsOpen(string status) => status is "pending" or "escalated";

    /// <param name="withActions">The approver's view: Approve and Deny, while the approval is open.</param>
    public static JsonObject Build(TeamsCardContent content, bool withActions)
    {
        var notice = content.Notice;
        var open = IsOpen(notice.Status);
        var body = new JsonArray
        {
            new JsonObject { ["type"] = "TextBlock", ["text"] = Title(notice, content.ToolName), ["weight"] = "Bolder", ["size"] = "Medium", ["wrap"] = true },
            new JsonObject { ["type"] = "TextBlock", ["text"] = StatusLine(notice), ["wrap"] = true, ["color"] = Color(notice.Status) },
            new JsonObject { ["type"] = "FactSet", ["facts"] = Facts(notice, content.ToolName) },
            new JsonObject { ["type"] = "TextBlock", ["text"] = "Arguments", ["weight"] = "Bolder", ["spacing"] = "Medium" },
            new JsonObject { ["type"] = "TextBlock", ["text"] = Limit(content.Arguments, MaxArgumentChars), ["fontType"] = "Monospace", ["wrap"] = true },
        };
        if (content.Note is { } note)
        {
            body.Add(new JsonObject { ["type"] = "TextBlock", ["text"] = note, ["wrap"] = true, ["isSubtle"] = true, ["spacing"] = "Medium" });
        }

        var actions = new JsonArray();
        if (open && withActions)
        {
            body.Add(new JsonObject
            {
                ["type"] = "Input.Text",
                ["id"] = ReasonInput,
                ["label"] = "Reason (for Deny, optional)",
                ["isMultiline"] = true,
                ["maxLength"] = 500,
            });
            actions.Add(Execute("Approve", ApproveVerb, notice, "positive"));
            actions.Add(Execute("Deny", DenyVerb, notice, "destructive"));
        }

        if (content.ConsoleUrl is { } url)
        {
            actions.Add(new JsonObject { ["type"] = "Action.OpenUrl", ["title"] = "Open in console", ["url"] = url.AbsoluteUri });
        }

        var card = new JsonObject
        {
            ["type"] = "AdaptiveCard",
            ["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json",
            ["version"] = Version,
            ["body"] = body,
        };
        if (actions.Count > 0)
        {
            card["actions"] = actions;
        }

        if (open)
        {
            card["refresh"] = new JsonObject
            {
                ["action"] = new JsonObject { ["type"] = "Action.Execute", ["verb"] = RefreshVerb, ["data"] = Data(notice) },
                ["userIds"] = new JsonArray([.. content.ApproverUserIds.Take(MaxRefreshUsers).Select(id => (JsonNode)JsonValue.Create(id)!)]),
            };
        }

        return card;
    }

    /// <summary>A message activity carrying the card, for POST and PUT.</summary>
    public static JsonObject Message(JsonObject card, string summary) => new()
    {
        ["type"] = "message",
        ["summary"] = summary,
        ["attachments"] = new JsonArray { new JsonObject { ["contentType"] = ContentType, ["content"] = card } },
    };

    /// <summary>The <c>adaptiveCard/action</c> invoke response that replaces the card for the person who clicked.</summary>
    public static JsonObject CardResponse(JsonObject card) => new() { ["statusCode"] = 200, ["type"] = ContentType, ["value"] = card };

    public static JsonObject ErrorResponse(int statusCode, string code, string message) => new()
    {
        ["statusCode"] = statusCode,
        ["type"] = ErrorType,
        ["value"] = new JsonObject { ["code"] = code, ["message"] = message },
    };

    public static string Summary(ApprovalNotice notice, string toolName) => $"Approval {notice.Status}: {notice.AgentId} wants to call {toolName}";

    private static JsonObject Execute(string title, string verb, ApprovalNotice notice, string style) => new()
    {
        ["type"] = "Action.Execute",
        ["title"] = title,
        ["verb"] = verb,
        ["style"] = style,
        ["data"] = Data(notice),
    };

    // The id says which approval; it is never taken as authority: the clicker is identified and checked separately.
    private static JsonObject Data(ApprovalNotice notice) => new() { ["approvalId"] = notice.ApprovalId.ToString("D") };

    private static string Title(ApprovalNotice notice, string toolName) =>
        IsOpen(notice.Status) ? $"Approval needed: {notice.AgentId} wants to call {toolName}" : $"{toolName} requested by {notice.AgentId}";

    private static string StatusLine(ApprovalNotice notice)
    {
        var line = $"Status: {notice.Status}";
        if (notice.DecidedBy.Count > 0)
        {
            line += $" by {string.Join(", ", notice.DecidedBy)}";
        }

        return notice.Outcome is { } outcome ? $"{line}. {outcome}" : line;
    }

    private static string Color(string status) => status switch
    {
        "approved" or "executing" or "completed" => "Good",
        "denied" or "failed" or "in_doubt" => "Attention",
        "expired" or "cancelled" => "Warning",
        _ => "Default",
    };

    private static JsonArray Facts(ApprovalNotice notice, string toolName)
    {
        var facts = new JsonArray
        {
            Fact("Approval", notice.ApprovalId.ToString("D")),
            Fact("Agent", notice.AgentId),
            Fact("Owner", notice.AgentOwner ?? "unknown"),
            Fact("Bundle", notice.Bundle),
            Fact("Tool", toolName),
            Fact("Rule", notice.Rule ?? "default"),
        };
        if (notice.Reason is { } reason)
        {
            facts.Add(Fact("Why", reason));
        }

        facts.Add(Fact("Approvers", $"{notice.ApproverGroup} ({string.Join(", ", notice.Approvers)})"));
        facts.Add(Fact("Quorum", notice.Votes.Count == 0
            ? notice.Quorum.ToString(CultureInfo.InvariantCulture)
            : $"{notice.Votes.Count} of {notice.Quorum} ({string.Join(", ", notice.Votes)})"));
        facts.Add(Fact("Deadline", notice.DeadlineAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)));
        facts.Add(Fact("Digest", notice.ArgumentsDigest));
        return facts;
    }

    private static JsonObject Fact(string title, string value) => new() { ["title"] = title, ["value"] = value };

    private static string Limit(string text, int max) => text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 1), "…");
}
