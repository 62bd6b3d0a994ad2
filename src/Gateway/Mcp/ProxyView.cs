using System.Collections.Concurrent;
using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Upstreams;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>Two upstreams of one view list the same resource URI or template; <paramref name="Winner"/> serves it.</summary>
internal sealed record ResourceCollision(string Kind, string Uri, string Winner, string Loser);

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
    private readonly List<ResourceCollision> collisions = [];

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

    /// <summary>URIs and templates that more than one upstream of this view lists; the first in configuration order serves each.</summary>
    public IReadOnlyList<ResourceCollision> Collisions => collisions;

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
        var visible = new Dictionary<string, (BundleConfig Member, UpstreamCatalogEntry Entry)>(StringComparer.Ordinal);
        foreach (var member in BundlesFor(config.Config, agent, bundle).OrderBy(b => b.Name, StringComparer.Ordinal))
        {
            foreach (var upstream in member.Upstreams)
            {
                if (!catalog.Upstreams.TryGetValue(upstream, out var entry))
                {
                    continue;
                }

                visible.TryAdd(upstream, (member, entry));
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
            }
        }

        view.AddResources(visible, config.Config, separator);
        view.Tools = toolList;
        view.Prompts = promptList;
        view.ToolsSignature = Signature(toolList);
        view.PromptsSignature = Signature(promptList);
        view.ResourcesSignature = Signature(view.resources) + Signature(view.templates.Select(t => t.Template).ToList());
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

    /// <summary>
    /// Resource URIs stay as the upstream wrote them (clients follow them, and tool results link to them); only their
    /// names are namespaced. So two upstreams can list the same URI, or the same template: the one that comes first in
    /// the configuration's <c>upstreams</c> section serves it, whatever the bundles' order, and the view records the
    /// collision for a warning.
    /// </summary>
    private void AddResources(Dictionary<string, (BundleConfig Member, UpstreamCatalogEntry Entry)> visible, GatewayConfig config, string separator)
    {
        // The loader adds upstreams in the file's order and never removes one, so the dictionary enumerates in that order.
        var position = config.Upstreams.Keys.Select((name, index) => (name, index)).ToDictionary(p => p.name, p => p.index, StringComparer.Ordinal);
        var templateOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (upstream, (member, entry)) in visible.OrderBy(v => position.GetValueOrDefault(v.Key, int.MaxValue)).ThenBy(v => v.Key, StringComparer.Ordinal))
        {
            string Expose(string local) => member.Namespaced ? upstream + separator + local : local;

            foreach (var resource in entry.Resources)
            {
                if (Claim(resourceOwners, "resource", resource.Uri, upstream))
                {
                    resources.Add(Renamed(resource, Expose(resource.Name)));
                }
            }

            foreach (var template in entry.ResourceTemplates)
            {
                if (!Claim(templateOwners, "resource template", template.UriTemplate, upstream))
                {
                    continue;
                }

                var brace = template.UriTemplate.IndexOf('{', StringComparison.Ordinal);
                templates.Add((brace < 0 ? template.UriTemplate : template.UriTemplate[..brace], upstream, member.Name, Renamed(template, Expose(template.Name))));
            }
        }

        ResourceTemplates = [.. templates.Select(t => t.Template)];
    }

    /// <summary>Whether <paramref name="upstream"/> is the first to list <paramref name="uri"/>; another upstream's earlier claim is a collision.</summary>
    private bool Claim(Dictionary<string, string> owners, string kind, string uri, string upstream)
    {
        if (owners.TryAdd(uri, upstream))
        {
            return true;
        }

        // The same upstream may list a URI twice, or reach the view through two bundles: that is no collision.
        if (!string.Equals(owners[uri], upstream, StringComparison.Ordinal))
        {
            collisions.Add(new ResourceCollision(kind, uri, owners[uri], upstream));
        }

        return false;
    }

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

/// <summary>Warns once per resource collision, however many views (agents, endpoints, rebuilds) contain it.</summary>
internal sealed partial class ResourceCollisionLog(ILogger logger)
{
    // Far more than any real catalog has; past it the set starts over, so upstreams that keep inventing colliding
    // URIs repeat warnings rather than grow memory.
    private const int MaxRemembered = 10_000;
    private readonly ConcurrentDictionary<ResourceCollision, byte> reported = new();

    public void Report(ProxyView view)
    {
        foreach (var collision in view.Collisions)
        {
            if (reported.Count >= MaxRemembered)
            {
                reported.Clear();
            }

            if (reported.TryAdd(collision, 0))
            {
                LogCollision(collision.Winner, collision.Loser, collision.Kind, collision.Uri);
            }
        }
    }

    [LoggerMessage(3460, LogLevel.Warning,
        "Upstreams {Winner} and {Loser} both list the {Kind} '{Uri}'; resource URIs are not namespaced, so the first of them in the configuration serves it")]
    private partial void LogCollision(string winner, string loser, string kind, string uri);
}
