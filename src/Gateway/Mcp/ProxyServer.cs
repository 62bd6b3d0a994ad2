using System.Reflection;
using ApprovalEngine.Gateway.Upstreams;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// The MCP server an agent talks to: lists what its scope offers and forwards each request to the upstream that
/// owns the primitive. Tool calls go through <see cref="ToolCalls"/>, which audits them.
/// </summary>
internal sealed class ProxyServer(IUpstreams upstreams, ToolCalls toolCalls, McpTasks tasks)
{
    public const string ServerName = "approval-engine";

    private static readonly string Version =
        typeof(ProxyServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public McpServerOptions CreateOptions(AgentScope scope) => tasks.Configure(BaseOptions(scope), scope);

    private McpServerOptions BaseOptions(AgentScope scope) => new()
    {
        ServerInfo = new Implementation { Name = ServerName, Version = Version },
        Capabilities = new ServerCapabilities
        {
            Tools = new ToolsCapability { ListChanged = true },
            Prompts = new PromptsCapability { ListChanged = true },
            Resources = new ResourcesCapability { ListChanged = true },
            Logging = new LoggingCapability(),
            Completions = new CompletionsCapability(),
        },
        Handlers = new McpServerHandlers
        {
            ListToolsHandler = (_, _) =>
            {
                scope.MarkSeen();
                return ValueTask.FromResult(new ListToolsResult { Tools = [.. scope.View.Tools] });
            },
            CallToolHandler = (request, cancellationToken) => toolCalls.CallAsync(scope, request, cancellationToken),
            ListPromptsHandler = (_, _) =>
            {
                scope.MarkSeen();
                return ValueTask.FromResult(new ListPromptsResult { Prompts = [.. scope.View.Prompts] });
            },
            GetPromptHandler = GetPromptAsync(scope),
            ListResourcesHandler = (_, _) =>
            {
                scope.MarkSeen();
                return ValueTask.FromResult(new ListResourcesResult { Resources = [.. scope.View.Resources] });
            },
            ListResourceTemplatesHandler = (_, _) => ValueTask.FromResult(new ListResourceTemplatesResult { ResourceTemplates = [.. scope.View.ResourceTemplates] }),
            ReadResourceHandler = ReadResourceAsync(scope),
            CompleteHandler = CompleteAsync(scope),
            SetLoggingLevelHandler = async (request, cancellationToken) =>
            {
                if (request.Params is { } parameters)
                {
                    await upstreams.SetLoggingLevelAsync(parameters.Level, cancellationToken);
                }

                return new EmptyResult();
            },
        },
    };

    internal static UpstreamCallContext CallContext(AgentScope scope, McpServer server) => CallContext(scope, new AgentChannel(server), null);

    internal static UpstreamCallContext CallContext(AgentScope scope, AgentChannel channel, ProgressToken? progressToken) => new()
    {
        Agent = scope.Agent ?? throw new McpProtocolException("This agent is no longer configured on the gateway.", McpErrorCode.InvalidRequest),
        Progress = progressToken is { } token ? new ProgressRelay(channel, token) : null,
        Channel = channel,
    };

    private McpRequestHandler<GetPromptRequestParams, GetPromptResult> GetPromptAsync(AgentScope scope) => async (request, cancellationToken) =>
    {
        var name = request.Params?.Name ?? "";
        var prompt = scope.View.FindPrompt(name)
            ?? throw new McpProtocolException($"Unknown prompt '{name}'.", McpErrorCode.InvalidParams);
        return await Forward(() => upstreams.GetPromptAsync(
            prompt.Upstream, prompt.LocalName, request.Params!.Arguments?.AsReadOnly(), CallContext(scope, request.Server), cancellationToken));
    };

    private McpRequestHandler<ReadResourceRequestParams, ReadResourceResult> ReadResourceAsync(AgentScope scope) => async (request, cancellationToken) =>
    {
        var uri = request.Params?.Uri ?? "";
        var owner = scope.View.FindResourceOwner(uri)
            ?? throw new McpProtocolException($"Resource not found: '{uri}'.", McpErrorCode.ResourceNotFound);
        return await Forward(() => upstreams.ReadResourceAsync(owner, uri, CallContext(scope, request.Server), cancellationToken));
    };

    private McpRequestHandler<CompleteRequestParams, CompleteResult> CompleteAsync(AgentScope scope) => async (request, cancellationToken) =>
    {
        var parameters = request.Params ?? throw new McpProtocolException("completion/complete needs params.", McpErrorCode.InvalidParams);
        string upstream;
        Reference reference;
        switch (parameters.Ref)
        {
            case PromptReference promptReference:
                var prompt = scope.View.FindPrompt(promptReference.Name)
                    ?? throw new McpProtocolException($"Unknown prompt '{promptReference.Name}'.", McpErrorCode.InvalidParams);
                upstream = prompt.Upstream;
                reference = new PromptReference { Name = prompt.LocalName };
                break;
            case ResourceTemplateReference templateReference:
                upstream = scope.View.FindTemplateOwner(templateReference.Uri ?? "")
                    ?? throw new McpProtocolException($"Unknown resource template '{templateReference.Uri}'.", McpErrorCode.InvalidParams);
                reference = templateReference;
                break;
            default:
                throw new McpProtocolException("completion/complete needs a ref of type ref/prompt or ref/resource.", McpErrorCode.InvalidParams);
        }

        var forwarded = new CompleteRequestParams { Ref = reference, Argument = parameters.Argument, Context = parameters.Context, Meta = parameters.Meta };
        return await Forward(() => upstreams.CompleteAsync(upstream, forwarded, CallContext(scope, request.Server), cancellationToken));
    };

    // An unreachable upstream is a server-side failure of this request, reported with the upstream's safe message.
    private static async ValueTask<T> Forward<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (UpstreamUnavailableException e)
        {
            throw new McpProtocolException(e.Message, e, McpErrorCode.InternalError);
        }
    }
}
