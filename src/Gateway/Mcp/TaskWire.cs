using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// The wire of MCP tasks as protocol revision 2025-11-25 defines them (basic/utilities/tasks). The SDK dropped its
/// typed classes for this revision, so the shapes are written here: a task is
/// <c>{taskId, status, statusMessage?, createdAt, lastUpdatedAt, ttl (ms or null), pollInterval? (ms)}</c>.
/// </summary>
internal static class TaskWire
{
    /// <summary>The only revision with tasks in this shape; 2026-07-28 moved tasks to an extension with another wire.</summary>
    public const string ProtocolVersion = "2025-11-25";

    public const string Get = "tasks/get";
    public const string Result = "tasks/result";
    public const string Cancel = "tasks/cancel";
    public const string StatusNotification = "notifications/tasks/status";

    /// <summary>Associates a message with its task; required on the result of <c>tasks/result</c>.</summary>
    public const string RelatedTaskKey = "io.modelcontextprotocol/related-task";

    /// <summary>A hint for hosts that hand the model something to read while the task runs (non-binding in the spec).</summary>
    public const string ModelImmediateResponseKey = "io.modelcontextprotocol/model-immediate-response";

    public static bool Supports(string? negotiatedVersion) => string.Equals(negotiatedVersion, ProtocolVersion, StringComparison.Ordinal);

    /// <summary><c>capabilities.tasks</c>: tasks/cancel, and task-augmented tools/call. No tasks/list (optional in the spec).</summary>
    public static JsonObject ServerCapability() => new()
    {
        ["cancel"] = new JsonObject(),
        ["requests"] = new JsonObject { ["tools"] = new JsonObject { ["call"] = new JsonObject() } },
    };

    /// <summary><c>params.task</c> of a request: null when the request is not task-augmented.</summary>
    /// <exception cref="McpProtocolException">The field is there but malformed.</exception>
    public static TaskAugmentation? ReadAugmentation(JsonNode? parameters)
    {
        if (parameters is not JsonObject fields || !fields.TryGetPropertyValue("task", out var task) || task is null)
        {
            return null;
        }

        if (task is not JsonObject metadata)
        {
            throw new McpProtocolException("params.task must be an object, e.g. {\"ttl\": 60000}.", McpErrorCode.InvalidParams);
        }

        TimeSpan? ttl = null;
        if (metadata["ttl"] is { } value)
        {
            if (value.GetValueKind() != JsonValueKind.Number || !value.AsValue().TryGetValue<double>(out var ms) || ms < 0 || double.IsInfinity(ms))
            {
                throw new McpProtocolException("params.task.ttl must be a non-negative number of milliseconds.", McpErrorCode.InvalidParams);
            }

            ttl = TimeSpan.FromMilliseconds(Math.Min(ms, TimeSpan.MaxValue.TotalMilliseconds / 2));
        }

        return new TaskAugmentation { RequestedTtl = ttl };
    }

    /// <summary>The <c>taskId</c> parameter of tasks/get, tasks/result and tasks/cancel (the source of truth, not <c>_meta</c>).</summary>
    public static string ReadTaskId(JsonRpcRequest request) =>
        request.Params is JsonObject fields && fields["taskId"] is JsonValue value && value.TryGetValue<string>(out var id) && id.Length > 0
            ? id
            : throw new McpProtocolException($"{request.Method} needs params.taskId (a string).", McpErrorCode.InvalidParams);

    /// <summary>The error for a task that does not exist, expired, or belongs to someone else: the three are not told apart.</summary>
    public static McpProtocolException NotFound(string taskId) =>
        new($"Failed to retrieve task: task '{taskId}' not found.", McpErrorCode.InvalidParams);

    public static JsonObject RelatedTask(string taskId) => new() { ["taskId"] = taskId };
}

/// <summary>Task statuses; <c>input_required</c> is never used: an approval needs nothing from the agent.</summary>
internal static class McpTaskStatus
{
    public const string Working = "working";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsTerminal(string status) => status is Completed or Failed or Cancelled;
}

/// <summary>One task as the agent sees it.</summary>
internal sealed record TaskInfo(
    string TaskId, string Status, string? StatusMessage, DateTimeOffset CreatedAt, DateTimeOffset LastUpdatedAt, TimeSpan? Ttl, TimeSpan? PollInterval)
{
    /// <summary>The task object: the body of tasks/get, tasks/cancel and notifications/tasks/status, and CreateTaskResult's <c>task</c>.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["taskId"] = TaskId,
            ["status"] = Status,
        };
        if (StatusMessage is not null)
        {
            json["statusMessage"] = StatusMessage;
        }

        json["createdAt"] = Timestamp(CreatedAt);
        json["lastUpdatedAt"] = Timestamp(LastUpdatedAt);

        // Required: the actual lifetime, null meaning unlimited.
        json["ttl"] = Ttl is { } ttl ? (long)ttl.TotalMilliseconds : null;
        if (PollInterval is { } interval)
        {
            json["pollInterval"] = (long)interval.TotalMilliseconds;
        }

        return json;
    }

    private static string Timestamp(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}

/// <summary>
/// The task a tools/call asked for (<c>params.task</c>), carried in the request's items from the task filter into the
/// call path. The gated path fills <see cref="Approval"/> when the approval it started or joined becomes the task.
/// </summary>
internal sealed class TaskAugmentation
{
    private const string ItemKey = "approvalEngine/task";

    public TimeSpan? RequestedTtl { get; init; }

    public WorkflowSnapshot? Approval { get; set; }

    public static TaskAugmentation? Of(RequestContext<CallToolRequestParams> request) =>
        request.Items.TryGetValue(ItemKey, out var value) ? value as TaskAugmentation : null;

    public void AttachTo(RequestContext<CallToolRequestParams> request) => request.Items[ItemKey] = this;
}

/// <summary>The answer to a task-augmented request: <c>{task: {...}, _meta?}</c>.</summary>
internal sealed class CreateTaskResult : ModelContextProtocol.Protocol.Result
{
    [JsonPropertyName("task")]
    public required JsonObject Task { get; init; }
}

[JsonSerializable(typeof(CreateTaskResult))]
internal sealed partial class TaskJsonContext : JsonSerializerContext;
