using System.Text.Json;
using ApprovalEngine.Activities;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>
/// Runs an approved call through the gateway's upstream layer, with the agent's identity (its credentials for that
/// upstream), on whichever node claimed the execute task. The result is stored in the workflow as MCP JSON, so the
/// node that holds the agent's call (or a retry on any node) returns it as the upstream gave it.
/// </summary>
internal sealed class GatewayToolInvoker(IUpstreams upstreams, LiveConfiguration config) : IToolInvoker
{
    public async Task<ActivityResult> InvokeAsync(ToolInvocation invocation, CancellationToken cancellationToken)
    {
        if (config.Current.Agents.FindById(invocation.AgentId) is not { } agent)
        {
            // Certainly not sent: nothing ran.
            return ActivityResult.Failure($"agent '{invocation.AgentId}' is no longer configured", retryable: false);
        }

        var arguments = invocation.Arguments.ValueKind == JsonValueKind.Object
            ? invocation.Arguments.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal)
            : null;
        try
        {
            var result = await upstreams.CallToolAsync(invocation.Upstream, invocation.Tool, arguments, new UpstreamCallContext { Agent = agent }, cancellationToken);
            return ActivityResult.Success(JsonSerializer.SerializeToElement(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult))));
        }
        catch (UpstreamUnavailableException e)
        {
            // Down, crashed mid-call or timed out: the request may have reached the server. Not certain it did not run.
            return ActivityResult.Unknown(e.Message);
        }
        catch (McpException e) when (!cancellationToken.IsCancellationRequested)
        {
            // The upstream answered with a JSON-RPC error: it received the call and says it did not run it.
            return ActivityResult.Failure($"the upstream refused the call: {e.Message}", retryable: false);
        }
    }

    public static CallToolResult ToResult(JsonElement stored) =>
        (CallToolResult)stored.Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult)))!;
}
