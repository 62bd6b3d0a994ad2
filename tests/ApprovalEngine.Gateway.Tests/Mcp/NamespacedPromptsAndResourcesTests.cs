using System.Text.Json;
using ApprovalEngine.Gateway.Tests.Upstreams;
using ApprovalEngine.Gateway.Upstreams;
using ApprovalEngine.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>
/// Prompts and resources of two upstreams (tests/mcp-peers/upstream-fixtures/probe-server.mjs, named <c>zeta</c> and
/// <c>alpha</c>, each answering with its own name) through <c>/mcp</c>, with the C# SDK client. Both list
/// <c>shared://doc</c>. <c>zeta</c> comes first in the <c>upstreams</c> section, but last by name, in the bundle's
/// upstream list and in the order bundles are merged: only configuration order makes it the one that serves that URI.
/// </summary>
public sealed class NamespacedPromptsAndResourcesTests(ProbeGateway probes) : IClassFixture<ProbeGateway>
{
    [Fact]
    public async Task PromptsGet_NamespacedName_AnsweredByItsUpstream()
    {
        var prompts = (await probes.Client.ListPromptsAsync()).Select(p => p.Name).ToList();

        var alpha = await probes.Client.GetPromptAsync("alpha__greet", new Dictionary<string, object?> { ["who"] = "Ada" });
        var zeta = await probes.Client.GetPromptAsync("zeta__greet", new Dictionary<string, object?> { ["who"] = "Grace" });

        Assert.Equal(["alpha__greet", "zeta__greet"], prompts.Order(StringComparer.Ordinal));
        Assert.Equal("Hello Ada, from alpha", Assert.IsType<TextContentBlock>(Assert.Single(alpha.Messages).Content).Text);
        Assert.Equal("Hello Grace, from zeta", Assert.IsType<TextContentBlock>(Assert.Single(zeta.Messages).Content).Text);
    }

    [Fact]
    public async Task ResourcesRead_UpstreamUri_AnsweredByItsUpstreamUnderANamespacedName()
    {
        var resources = await probes.Client.ListResourcesAsync();

        var alpha = await probes.Client.ReadResourceAsync("alpha://only");
        var zeta = await probes.Client.ReadResourceAsync("zeta://only");

        Assert.Equal("alpha__only", Assert.Single(resources, r => r.Uri == "alpha://only").Name);
        Assert.Equal("zeta__only", Assert.Single(resources, r => r.Uri == "zeta://only").Name);
        Assert.Equal("only alpha", Text(alpha));
        Assert.Equal("only zeta", Text(zeta));
    }

    [Fact]
    public async Task ResourceTemplates_ListedNamespaced_UrisReadThroughTheirUpstream()
    {
        var templates = await probes.Client.ListResourceTemplatesAsync();

        var alpha = await probes.Client.ReadResourceAsync("alpha://items/42");
        var zeta = await probes.Client.ReadResourceAsync("zeta://items/7");

        Assert.Equal("alpha__items", Assert.Single(templates, t => t.UriTemplate == "alpha://items/{id}").Name);
        Assert.Equal("zeta__items", Assert.Single(templates, t => t.UriTemplate == "zeta://items/{id}").Name);
        Assert.Equal(2, templates.Count);
        Assert.Equal("item 42 from alpha", Text(alpha));
        Assert.Equal("item 7 from zeta", Text(zeta));
    }

    [Fact]
    public async Task ResourcesRead_UriListedByTwoUpstreams_FirstInConfigurationServesItOneWarning()
    {
        // A second agent and several requests: the collision is still warned about once.
        await using var second = await AgentClients.ConnectAsync(probes.Gateway.Url(), probes.Gateway.KeyOf("second"), "zeta__received", CancellationToken.None);

        var listed = (await probes.Client.ListResourcesAsync()).Where(r => r.Uri == "shared://doc").ToList();
        var first = await probes.Client.ReadResourceAsync("shared://doc");
        var again = await second.ReadResourceAsync("shared://doc");

        var resource = Assert.Single(listed);
        Assert.Equal("zeta__doc", resource.Name);
        Assert.Equal("shared document served by zeta", Text(first));
        Assert.Equal("shared document served by zeta", Text(again));
        var warning = Assert.Single(probes.Logs.Entries, e => e.Contains(" 3460: ", StringComparison.Ordinal));
        Assert.StartsWith("Warning ", warning, StringComparison.Ordinal);
        Assert.Contains("Upstreams zeta and alpha both list the resource 'shared://doc'", warning, StringComparison.Ordinal);
    }

    private static string Text(ReadResourceResult result) => Assert.IsType<TextResourceContents>(Assert.Single(result.Contents)).Text;
}

/// <summary>A gateway in front of two probe-server.mjs upstreams, zeta then alpha, with one connected agent on <c>/mcp</c>.</summary>
public sealed class ProbeGateway : IAsyncLifetime
{
    internal RecordingLoggerProvider Logs { get; } = new();

    public McpGateway Gateway { get; private set; } = null!;

    public McpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var probe = JsonSerializer.Serialize(Path.Combine(NodePeers.PeersDirectory, "upstream-fixtures", "probe-server.mjs"));
        Gateway = await McpGateway.StartAsync(
            $$"""
            upstreams:
              zeta:
                type: stdio
                command: node
                args: [{{probe}}, "zeta"]
              alpha:
                type: stdio
                command: node
                args: [{{probe}}, "alpha"]
            agents:
              agent:
                owner: owner@example.com
                keys: ["{key:agent}"]
              second:
                owner: owner@example.com
                keys: ["{key:second}"]
            bundles:
              a-first:
                upstreams: [alpha]
                agents: [agent, second]
              b-second:
                upstreams: [alpha, zeta]
                agents: [agent, second]
            """,
            services => services.AddSingleton<ILoggerProvider>(Logs));
        await Gateway.Get<IUpstreams>().WaitForReadyAsync("zeta", "alpha");
        Client = await AgentClients.ConnectAsync(Gateway.Url(), Gateway.KeyOf("agent"), "zeta__received", CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await Client.DisposeAsync();
        await Gateway.DisposeAsync();
    }
}
