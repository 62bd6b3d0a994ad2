using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Notifiers.Slack;

/// <summary>What an approver did on a card or in the deny modal, from an interactivity payload.</summary>
public enum SlackInteractionKind
{
    /// <summary>A payload we do not act on (another app surface, an unknown action).</summary>
    Other,
    Approve,

    /// <summary>The Deny button: the modal that asks for a reason comes next.</summary>
    DenyClicked,

    /// <summary>The deny modal was submitted.</summary>
    DenySubmitted,
}

/// <summary>
/// One interactivity payload (the HTTP <c>payload</c> form field, or a Socket Mode <c>interactive</c> envelope's
/// payload), reduced to what approvals need. Every value comes from Slack; none of it is authority by itself.
/// </summary>
public sealed record SlackInteraction
{
    public const string DenyModalCallback = "approval.deny_reason";
    private const string ReasonBlock = "reason";
    private const string ReasonAction = "reason";

    public required SlackInteractionKind Kind { get; init; }
    public string? TeamId { get; init; }
    public string? UserId { get; init; }
    public Guid? ApprovalId { get; init; }

    /// <summary>Unique per click: with team and user it keys the decision, so a repeated delivery is one signal.</summary>
    public string? ActionTs { get; init; }
    public string? TriggerId { get; init; }
    public Uri? ResponseUrl { get; init; }
    public string? ChannelId { get; init; }
    public string? MessageTs { get; init; }
    public string? ViewId { get; init; }
    public string? DenyReason { get; init; }

    /// <summary>Reads a payload; never throws on content (unknown shapes are <see cref="SlackInteractionKind.Other"/>).</summary>
    public static SlackInteraction Parse(JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object)
        {
            return new SlackInteraction { Kind = SlackInteractionKind.Other };
        }

        var type = Text(payload, "type");
        var user = Child(payload, "user");
        var basics = new SlackInteraction
        {
            Kind = SlackInteractionKind.Other,
            TeamId = Text(Child(payload, "team"), "id") ?? Text(user, "team_id"),
            UserId = Text(user, "id"),
            TriggerId = Text(payload, "trigger_id"),
        };
        return type switch
        {
            "block_actions" => BlockAction(payload, basics),
            "view_submission" => ViewSubmission(payload, basics),
            _ => basics,
        };
    }

    /// <summary>
    /// The modal that asks for an optional reason. Slack sends the submission without the message, so what the
    /// submission needs (approval, message and response_url) travels in <c>private_metadata</c>.
    /// </summary>
    public JsonObject DenyModal(string toolName) => new()
    {
        ["type"] = "modal",
        ["callback_id"] = DenyModalCallback,
        ["private_metadata"] = new JsonObject
        {
            ["approval"] = ApprovalId?.ToString("D"),
            ["channel"] = ChannelId,
            ["ts"] = MessageTs,
            ["response_url"] = ResponseUrl?.ToString(),
        }.ToJsonString(),
        ["title"] = ApprovalCard.PlainText("Deny request"),
        ["submit"] = ApprovalCard.PlainText("Deny"),
        ["close"] = ApprovalCard.PlainText("Cancel"),
        ["blocks"] = new JsonArray(
            new JsonObject
            {
                ["type"] = "section",
                ["text"] = new JsonObject { ["type"] = "mrkdwn", ["text"] = $"Deny the call to `{ApprovalCard.Escape(toolName)}`? The agent is told who denied it and why." },
            },
            new JsonObject
            {
                ["type"] = "input",
                ["block_id"] = ReasonBlock,
                ["optional"] = true,
                ["label"] = ApprovalCard.PlainText("Reason (optional)"),
                ["element"] = new JsonObject
                {
                    ["type"] = "plain_text_input",
                    ["action_id"] = ReasonAction,
                    ["multiline"] = true,
                    ["max_length"] = 500,
                },
            }),
    };

    private static SlackInteraction BlockAction(JsonElement payload, SlackInteraction basics)
    {
        // One card carries exactly one action per click; anything else is not ours.
        if (Child(payload, "actions") is not { ValueKind: JsonValueKind.Array } actions || actions.GetArrayLength() != 1)
        {
            return basics;
        }

        var action = actions[0];
        var kind = Text(action, "action_id") switch
        {
            ApprovalCard.ApproveAction => SlackInteractionKind.Approve,
            ApprovalCard.DenyAction => SlackInteractionKind.DenyClicked,
            _ => SlackInteractionKind.Other,
        };
        return basics with
        {
            Kind = kind,
            ApprovalId = Guid.TryParse(Text(action, "value"), out var id) ? id : null,
            ActionTs = Text(action, "action_ts"),
            ResponseUrl = Url(Text(payload, "response_url")),
            ChannelId = Text(Child(payload, "channel"), "id") ?? Text(Child(payload, "container"), "channel_id"),
            MessageTs = Text(Child(payload, "message"), "ts") ?? Text(Child(payload, "container"), "message_ts"),
        };
    }

    private static SlackInteraction ViewSubmission(JsonElement payload, SlackInteraction basics)
    {
        var view = Child(payload, "view");
        if (Text(view, "callback_id") != DenyModalCallback)
        {
            return basics;
        }

        JsonElement metadata = default;
        try
        {
            using var document = JsonDocument.Parse(Text(view, "private_metadata") ?? "{}");
            metadata = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return basics;
        }

        var reason = Text(Child(Child(Child(Child(view, "state"), "values"), ReasonBlock), ReasonAction), "value");
        return basics with
        {
            Kind = SlackInteractionKind.DenySubmitted,
            ApprovalId = Guid.TryParse(Text(metadata, "approval"), out var id) ? id : null,
            ViewId = Text(view, "id"),
            ResponseUrl = Url(Text(metadata, "response_url")),
            ChannelId = Text(metadata, "channel"),
            MessageTs = Text(metadata, "ts"),
            DenyReason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim(),
        };
    }

    private static Uri? Url(string? text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp) ? uri : null;

    private static JsonElement Child(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var child) ? child : default;

    private static string? Text(JsonElement element, string name) =>
        Child(element, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;
}
