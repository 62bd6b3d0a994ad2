using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// MCP tasks (revision 2025-11-25) for agents. A task-augmented tools/call of a gated tool is answered at once with a
/// task whose id is the approval's; <c>tasks/get</c> reports it, <c>tasks/result</c> waits for the outcome and answers
/// what the held call would have, <c>tasks/cancel</c> withdraws the approval, and the session hears
/// <c>notifications/tasks/status</c> as the approval moves. A call policy answers at once becomes a finished task.
/// Sessions on older revisions and 2026-07-28 requests see none of it, and their <c>params.task</c> is ignored, as the
/// spec requires of a receiver that does not declare the capability. <c>tasks/list</c> is optional and not offered.
/// </summary>
internal sealed partial class McpTasks(ApprovalTasks approvals, FinishedCallTasks finished, AgentSessions sessions, ILogger<McpTasks> logger)
{
    // The SDK's alternate-result seam (MCPEXP002) is how a tools/call answers with something other than a CallToolResult.
#pragma warning disable MCPEXP002
    public McpServerOptions Configure(McpServerOptions options, AgentScope scope)
    {
        // Tasks of this shape belong to 2025-11-25, which has sessions; 2026-07-28 (per request, no session) has its own.
        if (scope.SessionId is null)
        {
            return options;
        }

        options.Filters.Request.CallToolWithAlternateFilters.Add((request, next, cancellationToken) => CallAsync(scope, request, next, cancellationToken));
        options.Filters.Message.OutgoingFilters.Add(Advertise);
        options.RequestHandlers ??= [];
        options.RequestHandlers.Add(new McpServerRequestHandler { Method = TaskWire.Get, Handler = (request, cancellationToken) => GetAsync(scope, request, cancellationToken) });
        options.RequestHandlers.Add(new McpServerRequestHandler { Method = TaskWire.Result, Handler = (request, cancellationToken) => ResultAsync(scope, request, cancellationToken) });
        options.RequestHandlers.Add(new McpServerRequestHandler { Method = TaskWire.Cancel, Handler = (request, cancellationToken) => CancelAsync(scope, request, cancellationToken) });
        return options;
    }

    private async ValueTask<ResultOrAlternate<CallToolResult>> CallAsync(
        AgentScope scope,
        RequestContext<CallToolRequestParams> request,
        McpRequestHandler<CallToolRequestParams, ResultOrAlternate<CallToolResult>> next,
        CancellationToken cancellationToken)
    {
        if (!TaskWire.Supports(request.Server.NegotiatedProtocolVersion) || TaskWire.ReadAugmentation(request.JsonRpcRequest.Params) is not { } task)
        {
            return await next(request, cancellationToken);
        }

        task.AttachTo(request);
        var answer = await next(request, cancellationToken);
        if (task.Approval is { } approval)
        {
            var info = approvals.Describe(approval);
            Watch(scope, request.Server, approval.Id, info);
            return Created(info, new JsonObject
            {
                [TaskWire.ModelImmediateResponseKey] = McpTaskStatus.IsTerminal(info.Status)
                    ? info.StatusMessage
                    : $"{info.StatusMessage} The call runs only if a human approves it; the outcome will be the result of task {info.TaskId}.",
                [GatedCalls.MetaKey] = new JsonObject
                {
                    ["id"] = info.TaskId,
                    ["console"] = GatedCalls.ConsoleLink(approvals.Config, approval.Id),
                },
            });
        }

        // Policy answered at once (allowed and run, or refused): the task is born finished.
        var result = answer.Result ?? throw new InvalidOperationException("The tool-call pipeline answered a task-augmented call with neither a result nor a task.");
        return Created(finished.Add(scope, result, task.RequestedTtl), meta: null);
    }

    private static ResultOrAlternate<CallToolResult> Created(TaskInfo task, JsonObject? meta) =>
        ResultOrAlternate<CallToolResult>.FromAlternate(new CreateTaskResult { Task = task.ToJson(), Meta = meta }, TaskJsonContext.Default.CreateTaskResult);
#pragma warning restore MCPEXP002

    private async ValueTask<JsonNode?> GetAsync(AgentScope scope, JsonRpcRequest request, CancellationToken cancellationToken)
    {
        var taskId = TaskWire.ReadTaskId(request);
        if (finished.Find(scope, taskId) is { } entry)
        {
            return entry.Task.ToJson();
        }

        return approvals.Describe(await FindApprovalAsync(scope, taskId, cancellationToken)).ToJson();
    }

    private async ValueTask<JsonNode?> ResultAsync(AgentScope scope, JsonRpcRequest request, CancellationToken cancellationToken)
    {
        var taskId = TaskWire.ReadTaskId(request);
        var result = finished.Find(scope, taskId) is { } entry
            ? entry.Result
            : await approvals.ResultAsync(await FindApprovalAsync(scope, taskId, cancellationToken), cancellationToken);

        // A copy: the finished task keeps its result unchanged for the next tasks/result.
        var json = (JsonObject)JsonSerializer.SerializeToNode(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult)))!;
        var meta = json["_meta"] as JsonObject ?? [];
        meta[TaskWire.RelatedTaskKey] = TaskWire.RelatedTask(taskId);
        json["_meta"] = meta;
        return json;
    }

    private async ValueTask<JsonNode?> CancelAsync(AgentScope scope, JsonRpcRequest request, CancellationToken cancellationToken)
    {
        var taskId = TaskWire.ReadTaskId(request);
        if (finished.Find(scope, taskId) is { } entry)
        {
            throw new McpProtocolException($"Cannot cancel task: already in terminal status '{entry.Task.Status}'.", McpErrorCode.InvalidParams);
        }

        var cancelled = await approvals.CancelAsync(scope, await FindApprovalAsync(scope, taskId, cancellationToken), cancellationToken);
        return approvals.Describe(cancelled).ToJson();
    }

    private async Task<WorkflowSnapshot> FindApprovalAsync(AgentScope scope, string taskId, CancellationToken cancellationToken) =>
        await approvals.FindAsync(scope, taskId, cancellationToken) ?? throw TaskWire.NotFound(taskId);

    /// <summary>
    /// Sends <c>notifications/tasks/status</c> on the session (its GET stream) each time the task changes, until it is
    /// final or the session closes. Advisory: the spec tells clients to poll regardless.
    /// </summary>
    private void Watch(AgentScope scope, McpServer server, Guid id, TaskInfo created)
    {
        if (scope.SessionId is not { } sessionId || sessions.Find(sessionId) is not { } session || McpTaskStatus.IsTerminal(created.Status))
        {
            return;
        }

        _ = WatchAsync(scope.AgentId, server, id, created, session.Closed);
    }

    private async Task WatchAsync(string agent, McpServer server, Guid id, TaskInfo last, CancellationToken closed)
    {
        try
        {
            while (!McpTaskStatus.IsTerminal(last.Status))
            {
                last = await approvals.NextChangeAsync(id, last, closed);
                var notification = new JsonRpcNotification { Method = TaskWire.StatusNotification, Params = last.ToJson() };
                await server.SendMessageAsync(notification, closed);
            }
        }
        catch (OperationCanceledException) when (closed.IsCancellationRequested)
        {
            // The session closed: nobody is left to tell.
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or Npgsql.NpgsqlException or TimeoutException)
        {
            LogWatchEnded(agent, id, e.GetType().Name);
        }
    }

    /// <summary>
    /// Adds to what the SDK sends, for 2025-11-25 sessions: <c>capabilities.tasks</c> in the initialize result, and
    /// <c>execution.taskSupport: "optional"</c> on every tool (any tool may be gated, depending on its arguments).
    /// The SDK has no typed fields for either, so the outgoing JSON is amended.
    /// </summary>
    private static McpMessageHandler Advertise(McpMessageHandler next) => (context, cancellationToken) =>
    {
        if (context.JsonRpcMessage is JsonRpcResponse { Result: JsonObject result })
        {
            if (result["capabilities"] is JsonObject capabilities && result.ContainsKey("serverInfo")
                && result["protocolVersion"] is JsonValue version && version.TryGetValue<string>(out var negotiated) && TaskWire.Supports(negotiated))
            {
                capabilities["tasks"] = TaskWire.ServerCapability();
            }
            else if (result["tools"] is JsonArray tools && TaskWire.Supports(context.Server.NegotiatedProtocolVersion))
            {
                foreach (var tool in tools.OfType<JsonObject>())
                {
                    tool["execution"] = new JsonObject { ["taskSupport"] = "optional" };
                }
            }
        }

        return next(context, cancellationToken);
    };

    [LoggerMessage(3440, LogLevel.Debug, "Stopped sending status notifications of task {Id} to agent {Agent}: {Reason}")]
    private partial void LogWatchEnded(string agent, Guid id, string reason);
}
