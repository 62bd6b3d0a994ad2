using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>What an upstream offered when it was last listed.</summary>
internal sealed record ListedPrimitives(
    ServerCapabilities? Capabilities,
    IReadOnlyList<Tool> Tools,
    IReadOnlyList<Resource> Resources,
    IReadOnlyList<ResourceTemplate> ResourceTemplates,
    IReadOnlyList<Prompt> Prompts)
{
    public static readonly ListedPrimitives None = new(null, [], [], [], []);
}

/// <summary>Lists everything an upstream advertises, every page of it, keeping the protocol objects (annotations included) as sent.</summary>
internal static class CatalogLoader
{
    // A server that keeps returning cursors is broken; stop rather than loop forever.
    private const int MaxPages = 1000;

    public static async Task<ListedPrimitives> LoadAsync(McpClient client, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked.Token;
        var capabilities = client.ServerCapabilities;

        // Only what the server advertises: asking for the rest would draw "method not found" errors.
        var tools = capabilities.Tools is null ? [] : await AllPagesAsync(async cursor =>
        {
            var page = await client.ListToolsAsync(new ListToolsRequestParams { Cursor = cursor }, token);
            return (page.Tools, page.NextCursor);
        });
        var resources = capabilities.Resources is null ? [] : await AllPagesAsync(async cursor =>
        {
            var page = await client.ListResourcesAsync(new ListResourcesRequestParams { Cursor = cursor }, token);
            return (page.Resources, page.NextCursor);
        });
        var templates = capabilities.Resources is null ? [] : await ListTemplatesAsync(client, token);
        var prompts = capabilities.Prompts is null ? [] : await AllPagesAsync(async cursor =>
        {
            var page = await client.ListPromptsAsync(new ListPromptsRequestParams { Cursor = cursor }, token);
            return (page.Prompts, page.NextCursor);
        });
        return new ListedPrimitives(capabilities, tools, resources, templates, prompts);
    }

    private static async Task<IReadOnlyList<ResourceTemplate>> ListTemplatesAsync(McpClient client, CancellationToken cancellationToken)
    {
        try
        {
            return await AllPagesAsync(async cursor =>
            {
                var page = await client.ListResourceTemplatesAsync(new ListResourceTemplatesRequestParams { Cursor = cursor }, cancellationToken);
                return (page.ResourceTemplates, page.NextCursor);
            });
        }
        catch (McpProtocolException e) when (e.ErrorCode == McpErrorCode.MethodNotFound)
        {
            // The resources capability covers templates, but servers with plain resources often leave the method out.
            return [];
        }
    }

    private static async Task<IReadOnlyList<T>> AllPagesAsync<T>(Func<string?, Task<(IList<T> Items, string? NextCursor)>> page)
    {
        var all = new List<T>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? cursor = null;
        for (var pages = 0; pages < MaxPages; pages++)
        {
            var (items, next) = await page(cursor);
            all.AddRange(items);
            if (string.IsNullOrEmpty(next))
            {
                return all;
            }

            if (!seen.Add(next))
            {
                throw new InvalidOperationException("the server repeated a page cursor");
            }

            cursor = next;
        }

        throw new InvalidOperationException($"the server sent more than {MaxPages} pages");
    }
}
