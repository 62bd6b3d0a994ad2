using System.Collections.ObjectModel;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Policy;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>The gateway's YAML configuration file, validated and with every secret reference resolved.</summary>
public sealed record GatewayConfig
{
    public ServerConfig Server { get; init; } = new();

    public IReadOnlyDictionary<string, UpstreamConfig> Upstreams { get; init; } = ReadOnlyDictionary<string, UpstreamConfig>.Empty;

    public IReadOnlyDictionary<string, AgentConfig> Agents { get; init; } = ReadOnlyDictionary<string, AgentConfig>.Empty;

    public IReadOnlyDictionary<string, BundleConfig> Bundles { get; init; } = ReadOnlyDictionary<string, BundleConfig>.Empty;

    /// <summary>Approver groups by name; policy rules refer to them.</summary>
    public IReadOnlyDictionary<string, ApproverGroupConfig> Approvers { get; init; } = ReadOnlyDictionary<string, ApproverGroupConfig>.Empty;

    /// <summary>People who use the human-facing API, by email; the loader's dictionary ignores the email's case.</summary>
    public IReadOnlyDictionary<string, UserConfig> Users { get; init; } = ReadOnlyDictionary<string, UserConfig>.Empty;

    /// <summary>The identity provider whose JWTs people may authenticate with, besides API tokens; null when the file has no oidc section.</summary>
    public OidcConfig? Oidc { get; init; }

    /// <summary>Which calls are allowed, denied, rate-limited or need approval; allow-all when the file has no policy section.</summary>
    public PolicyConfig Policy { get; init; } = PolicyConfig.AllowAll;

    /// <summary>The Teams bot that shows approval cards; null when the file has no teams section.</summary>
    public TeamsConfig? Teams { get; init; }
    /// <summary>The Slack app that shows approval cards; null when the file has no slack section.</summary>
    public SlackConfig? Slack { get; init; }
}

public sealed record ServerConfig
{
    public const string DefaultToolSeparator = "__";
    public const long DefaultMaxRequestBodyBytes = 4 * 1024 * 1024;
    public static readonly TimeSpan DefaultSessionIdleTimeout = TimeSpan.FromMinutes(30);

    /// <summary>The URL people reach the gateway at; used for links in approval cards and the console.</summary>
    public Uri? PublicUrl { get; init; }

    /// <summary>Host header values accepted (DNS-rebinding defence). Empty: loopback names and the public URL's host.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>Origin header values accepted. Empty: no Origin, a loopback origin, or the public URL's origin.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary>Joins an upstream's name and its tool's name in aggregated tool names (<c>fs__read_file</c>).</summary>
    public string ToolSeparator { get; init; } = DefaultToolSeparator;

    public TimeSpan SessionIdleTimeout { get; init; } = DefaultSessionIdleTimeout;

    public long MaxRequestBodyBytes { get; init; } = DefaultMaxRequestBodyBytes;
}

public enum UpstreamType
{
    Stdio,
    Http,
}

/// <summary>An upstream MCP server. Stdio fields are set only for stdio upstreams, HTTP fields only for HTTP ones.</summary>
public sealed record UpstreamConfig
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public required string Name { get; init; }

    public required UpstreamType Type { get; init; }

    public string? Command { get; init; }

    public IReadOnlyList<string> Args { get; init; } = [];

    public IReadOnlyDictionary<string, string> Env { get; init; } = ReadOnlyDictionary<string, string>.Empty;

    /// <summary>Working directory of the process, absolute (relative paths are resolved against the file's directory).</summary>
    public string? Cwd { get; init; }

    public Uri? Url { get; init; }

    public IReadOnlyDictionary<string, string> Headers { get; init; } = ReadOnlyDictionary<string, string>.Empty;

    public OAuthClientConfig? OAuth { get; init; }

    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>Tool-name globs (upstream-local names) treated as idempotent even without the annotation.</summary>
    public IReadOnlyList<string> IdempotentTools { get; init; } = [];
}

/// <summary>OAuth 2.0 client-credentials grant used to obtain a bearer token for an HTTP upstream.</summary>
public sealed record OAuthClientConfig
{
    public required Uri TokenUrl { get; init; }

    public required string ClientId { get; init; }

    public required string ClientSecret { get; init; }

    public string? Scope { get; init; }

    // The generated record ToString would print the secret.
    public override string ToString() => $"OAuthClientConfig {{ TokenUrl = {TokenUrl}, ClientId = {ClientId}, ClientSecret = ***, Scope = {Scope} }}";
}

public sealed record AgentConfig
{
    public required string Id { get; init; }

    /// <summary>The email of the human accountable for the agent.</summary>
    public required string Owner { get; init; }

    public IReadOnlyList<string> Groups { get; init; } = [];

    /// <summary>Stored key hashes (<c>sha256:&lt;hex&gt;</c>); several are active at once while a key is rotated.</summary>
    public IReadOnlyList<string> Keys { get; init; } = [];

    /// <summary>Credentials injected into calls to each upstream (by upstream name), never shown to the agent.</summary>
    public IReadOnlyDictionary<string, AgentCredentials> Credentials { get; init; } = ReadOnlyDictionary<string, AgentCredentials>.Empty;
}

public sealed record AgentCredentials
{
    /// <summary>Headers added to requests to an HTTP upstream.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = ReadOnlyDictionary<string, string>.Empty;

    /// <summary>Environment variables set for a stdio upstream's process.</summary>
    public IReadOnlyDictionary<string, string> Env { get; init; } = ReadOnlyDictionary<string, string>.Empty;
}

/// <summary>A virtual MCP server (<c>/mcp/{name}</c>): a curated set of upstreams and tools with its member agents.</summary>
public sealed record BundleConfig
{
    public const string GroupPrefix = "group:";

    public required string Name { get; init; }

    public IReadOnlyList<string> Upstreams { get; init; } = [];

    /// <summary>Globs over namespaced tool names (<c>fs__read_*</c>). Empty: every tool of the bundle's upstreams.</summary>
    public IReadOnlyList<string> Tools { get; init; } = [];

    /// <summary>Agent ids and <c>group:&lt;name&gt;</c> entries.</summary>
    public IReadOnlyList<string> Agents { get; init; } = [];

    /// <summary>
    /// Whether names carry the upstream prefix (<c>fs__read_file</c>). Only a single-upstream bundle may turn it
    /// off, to present that server's names unchanged (a drop-in for clients that hard-code tool names).
    /// </summary>
    public bool Namespaced { get; init; } = true;

    public bool Admits(AgentConfig agent)
    {
        foreach (var member in Agents)
        {
            if (member.StartsWith(GroupPrefix, StringComparison.Ordinal)
                ? agent.Groups.Contains(member[GroupPrefix.Length..], StringComparer.Ordinal)
                : string.Equals(member, agent.Id, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}

public sealed record ApproverGroupConfig
{
    public required string Name { get; init; }

    /// <summary>Approver emails.</summary>
    public IReadOnlyList<string> Members { get; init; } = [];

    /// <summary>Where the group's Teams cards go; null when the group gets none.</summary>
    public TeamsDelivery? Teams { get; init; }
    /// <summary>Where the group's Slack cards go; null when the group gets none.</summary>
    public SlackDelivery? Slack { get; init; }
}

/// <summary>A person with API tokens for the human-facing API (approvals, audit, administration).</summary>
public sealed record UserConfig
{
    public required string Email { get; init; }

    /// <summary>At least one; each role stands alone (admin does not imply approver).</summary>
    public IReadOnlyList<Role> Roles { get; init; } = [];

    /// <summary>Stored token hashes (<c>sha256:&lt;hex&gt;</c>); several are active at once while a token is rotated; none disables API access.</summary>
    public IReadOnlyList<string> Tokens { get; init; } = [];
}
