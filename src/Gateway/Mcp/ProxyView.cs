using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>A primitive offered to an agent: the name it sees, and where it really lives.</summary>
internal sealed record Proxied<T>(string Name, string Bundle, string Upstream, string LocalName, T Item);

/// <summary>
/// What one agent sees through one endpoint: the tools, prompts and resources of the bundles it may use,
/// namespaced, filtered by the bundles' tool globs and without the tools policy denies it outright. Immutable; rebuilt when the configuration or catalog changes.
/// </summary>
internal sealed class ProxyView
{
    private readonly Dictionary<string, Proxied<Tool>> tools = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Proxied<Prompt>> prompts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> resourceOwners = new(StringComparer.Ordinal);
    private readonly List<Resource> resources = [];
    private readonly List<(string Prefix, string Upstream, string Bundle, ResourceTemplate Template)> templates = [];

    private ProxyView(ConfigSnapshot config, UpstreamCatalog catalog)
    {
        Config = config;
        Catalog = catalog;
    }

    public ConfigSnapshot Config { get; }

    public UpstreamCatalog Catalog { get; }

    public IReadOnlyList<Tool> Tools { get; private set; } = [];

    public IReadOnlyList<Prompt> Prompts { get; private set; } = [];

    public IReadOnlyList<Resource> Resources => resources;

    public IReadOnlyList<ResourceTemplate> ResourceTemplates { get; private set; } = [];

    /// <summary>Changes exactly when the lists an agent would see change; compared to decide on list_changed.</summary>
    public string ToolsSignature { get; private set; } = "";

    public string PromptsSignature { get; private set; } = "";

    public string ResourcesSignature { get; private set; } = "";

    /// <summary>The bundles an agent may use at an endpoint: the named one, or all of its bundles for <c>/mcp</c>.</summary>
    public static IEnumerable<BundleConfig> BundlesFor(GatewayConfig config, AgentConfig agent, string? bundle) =>
        bundle is null
            ? config.Bundles.Values.Where(b => b.Admits(agent))
            : config.Bundles.TryGetValue(bundle, out var one) && one.Admits(agent) ? [one] : [];

    public static ProxyView Build(ConfigSnapshot config, UpstreamCatalog catalog, AgentConfig agent, string? bundle)
    {
        var view = new ProxyView(config, catalog);
        var separator = config.Config.Server.ToolSeparator;
        var toolList = new List<Tool>();
        var promptList = new List<Prompt>();
        var templateList = new List<ResourceTemplate>();
        foreach (var member in BundlesFor(config.Config, agent, bundle).OrderBy(b => b.Name, StringComparer.Ordinal))
        {
            foreach (var upstream in member.Upstreams)
            {
                if (!catalog.Upstreams.TryGetValue(upstream, out var entry))
                {
                    continue;
                }

                string Expose(string local) => member.Namespaced ? upstream + separator + local : local;

                foreach (var tool in entry.Tools)
                {
                    var name = Expose(tool.Name);
                    if ((member.Tools.Count == 0 || Glob.AnyMatch(member.Tools, upstream + separator + tool.Name))
                        && !view.tools.ContainsKey(name))
                    {
                        var renamed = Renamed(tool, name);
                        view.tools[name] = new Proxied<Tool>(name, member.Name, upstream, tool.Name, renamed);

                        // A hidden tool is still found by name, so that calling it anyway gets policy's reason (and an audit record).
                        if (!config.Policy.AlwaysDenies(agent, member.Name, upstream, upstream + separator + tool.Name, tool.Annotations))
                        {
                            toolList.Add(renamed);
                        }
                    }
                }

                foreach (var prompt in entry.Prompts)
                {
                    var name = Expose(prompt.Name);
                    if (view.prompts.TryAdd(name, new Proxied<Prompt>(name, member.Name, upstream, prompt.Name, Renamed(prompt, name))))
                    {
                        promptList.Add(view.prompts[name].Item);
                    }
                }

                // Resource URIs stay as the upstream wrote them (clients follow them); their names are namespaced.
                foreach (var resource in entry.Resources)
                {
                    if (view.resourceOwners.TryAdd(resource.Uri, upstream))
                    {
                        view.resources.Add(Renamed(resource, Expose(resource.Name)));
                    }
                }

                foreach (var template in entry.ResourceTemplates)
                {
                    var renamed = Renamed(template, Expose(template.Name));
                    var brace = template.UriTemplate.IndexOf('{', StringComparison.Ordinal);
                    view.templates.Add((brace < 0 ? template.UriTemplate : template.UriTemplate[..brace], upstream, member.Name, renamed));
                    templateList.Add(renamed);
                }
            }
        }

        view.Tools = toolList;
        view.Prompts = promptList;
        view.ResourceTemplates = templateList;
        view.ToolsSignature = Signature(toolList);
        view.PromptsSignature = Signature(promptList);
        view.ResourcesSignature = Signature(view.resources) + Signature(templateList);
        return view;
    }

    public Proxied<Tool>? FindTool(string name) => tools.GetValueOrDefault(name);

    public Proxied<Prompt>? FindPrompt(string name) => prompts.GetValueOrDefault(name);

    /// <summary>The upstream that serves <paramref name="uri"/>: the one that listed it, else the one whose template's fixed prefix matches longest.</summary>
    public string? FindResourceOwner(string uri)
    {
        if (resourceOwners.TryGetValue(uri, out var owner))
        {
            return owner;
        }

        return templates
            .Where(t => t.Prefix.Length > 0 && uri.StartsWith(t.Prefix, StringComparison.Ordinal))
            .OrderByDescending(t => t.Prefix.Length)
            .Select(t => t.Upstream)
            .FirstOrDefault();
    }

    public string? FindTemplateOwner(string uriTemplate) =>
        templates.FirstOrDefault(t => string.Equals(t.Template.UriTemplate, uriTemplate, StringComparison.Ordinal)).Upstream;

    // A JSON round trip copies every field the SDK knows, including ones added in later revisions.
    private static T Renamed<T>(T item, string name)
    {
        var options = McpJsonUtilities.DefaultOptions;
        var node = JsonSerializer.SerializeToNode(item, options.GetTypeInfo(typeof(T)))!.AsObject();
        node["name"] = name;
        return (T)node.Deserialize(options.GetTypeInfo(typeof(T)))!;
    }

    private static string Signature<T>(List<T> items)
    {
        var typeInfo = McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(T));
        return string.Join('\n', items.Select(item => JsonSerializer.Serialize(item, typeInfo)));
    }
}
