using System.Text.Json;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Upstreams;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// Runs an agent's tools/call: resolves the namespaced tool, calls its upstream with the agent's identity,
/// relays progress, and records the call in the audit before the agent gets the answer.
/// </summary>
internal sealed partial class ToolCalls(IUpstreams upstreams, CallAudit audit, TimeProvider time)
{
    public async ValueTask<CallToolResult> CallAsync(AgentScope scope, RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken)
    {
        var parameters = request.Params ?? throw new McpProtocolException("tools/call needs params.", McpErrorCode.InvalidParams);
        var call = new CallFacts
        {
            Scope = scope,
            RequestedName = parameters.Name,
            Arguments = parameters.Arguments,
            RequestId = request.JsonRpcRequest.Id.ToString(),
            StartedAt = time.GetUtcNow(),
            StartedTimestamp = time.GetTimestamp(),
        };

        var tool = scope.View.FindTool(parameters.Name);
        if (tool is null)
        {
            await audit.RecordAsync(call, ToolCallOutcome.Rejected, $"unknown tool '{parameters.Name}'");
            throw new McpProtocolException($"Unknown tool '{parameters.Name}'.", McpErrorCode.InvalidParams);
        }

        call.Tool = tool;
        var channel = new AgentChannel(request.Server);
        CallToolResult result;
        try
        {
            result = await upstreams.CallToolAsync(
                tool.Upstream, tool.LocalName, parameters.Arguments?.AsReadOnly(), ProxyServer.CallContext(scope, channel, parameters.ProgressToken), cancellationToken);
        }
        catch (UpstreamUnavailableException e)
        {
            // The agent gets a tool result it can reason about rather than a protocol fault: the gateway is fine, the tool is not.
            await audit.RecordAsync(call, ToolCallOutcome.UpstreamError, e.Message);
            return ErrorResult(e.Message);
        }
        catch (McpException e) when (!cancellationToken.IsCancellationRequested)
        {
            await audit.RecordAsync(call, ToolCallOutcome.UpstreamError, e.Message);
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await audit.RecordAsync(call, ToolCallOutcome.Cancelled, "the agent cancelled the call");
            throw;
        }

        // Progress and log messages of the call go out before its result.
        await channel.DrainAsync();

        await audit.RecordAsync(call, result.IsError == true ? ToolCallOutcome.ToolError : ToolCallOutcome.Ok, null);
        return result;
    }

    internal static CallToolResult ErrorResult(string message) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = message }],
    };
}

/// <summary>What the audit needs to know about one call, gathered as it runs.</summary>
internal sealed class CallFacts
{
    public required AgentScope Scope { get; init; }

    public required string RequestedName { get; init; }

    public IDictionary<string, JsonElement>? Arguments { get; init; }

    public string? RequestId { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public long StartedTimestamp { get; init; }

    /// <summary>Null when the name matched no tool of the agent's scope.</summary>
    public Proxied<Tool>? Tool { get; set; }
}
