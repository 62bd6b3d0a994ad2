using System.Reflection;
using ApprovalEngine.Gateway.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>What one connection is for: the upstream, and the agent whose credentials it carries (null: the shared base connection).</summary>
internal sealed record ConnectionSetup(string Upstream, UpstreamConfig Config, string? AgentId, AgentCredentials? Credentials)
{
    /// <summary>" for agent x", or empty for the base connection: appended to log messages.</summary>
    public string AgentSuffix => AgentId is null ? string.Empty : $" for agent {AgentId}";

    // The generated record ToString would print the agent's credentials.
    public override string ToString() => $"ConnectionSetup {{ Upstream = {Upstream}, AgentId = {AgentId} }}";
}

/// <summary>Builds the SDK transport and client options for one upstream connection.</summary>
internal static class UpstreamClientFactory
{
    /// <summary>
    /// The MCP revision spoken to upstreams. Without a pinned version the 2.3.1 client first probes
    /// <c>server/discover</c> (revision 2026-07-28) and waits up to 5 s for it to fail before it falls back to
    /// <c>initialize</c>; the servers we proxy (the npm reference servers, most in the wild) speak 2025-11-25 with
    /// sessions, and some answer unknown methods in ways the probe mistakes for success.
    /// </summary>
    public const string ProtocolVersion = "2025-11-25";

    /// <summary>
    /// The least time a connection gets for its handshake, whatever the upstream's (per-call) timeout: a process may
    /// take much longer to start than a call may take to answer (npx downloads the package on first use).
    /// </summary>
    public static readonly TimeSpan MinimumHandshakeTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a stdio server gets to exit by itself once its stdin is closed before its process tree is killed. A
    /// server that still runs children, or ignores the end of its input, would otherwise hold a restart or a host
    /// stop for the SDK's 5 s default.
    /// </summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(2);

    private static readonly Implementation ClientInfo = new()
    {
        Name = "approval-engine-gateway",
        // Without the "+commit" build metadata: upstreams need the version, not our source revision.
        Version = typeof(UpstreamClientFactory).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0",
    };

    public static IClientTransport CreateTransport(ConnectionSetup setup, string processMarker, ClientCredentialsTokenSource? tokens, UpstreamRelay relay, ILogger logger) =>
        new OrderedClientTransport(
            setup.Config.Type switch
            {
                UpstreamType.Stdio => CreateStdio(setup, processMarker, logger),
                UpstreamType.Http => CreateHttp(setup, tokens, logger),
                _ => throw new InvalidOperationException($"unknown upstream type {setup.Config.Type}"),
            },
            relay);

    public static McpClientOptions CreateOptions(ConnectionSetup setup, UpstreamRelay relay, Action? listChanged)
    {
        // Progress and log messages are routed by OrderedClientTransport, in wire order; list changes may run late.
        var notifications = new List<KeyValuePair<string, Func<JsonRpcNotification, CancellationToken, ValueTask>>>();
        if (listChanged is not null)
        {
            ValueTask OnListChanged(JsonRpcNotification notification, CancellationToken cancellationToken)
            {
                listChanged();
                return ValueTask.CompletedTask;
            }

            notifications.Add(new(NotificationMethods.ToolListChangedNotification, OnListChanged));
            notifications.Add(new(NotificationMethods.ResourceListChangedNotification, OnListChanged));
            notifications.Add(new(NotificationMethods.PromptListChangedNotification, OnListChanged));
        }

        return new McpClientOptions
        {
            ClientInfo = ClientInfo,
            ProtocolVersion = ProtocolVersion,
            InitializationTimeout = setup.Config.Timeout > MinimumHandshakeTimeout ? setup.Config.Timeout : MinimumHandshakeTimeout,
            // Both modes: whether an elicitation reaches a human is decided per request (UpstreamRelay), and servers
            // such as server-everything only offer their elicitation tools to clients that advertise the capability.
            Capabilities = new ClientCapabilities
            {
                Elicitation = new ElicitationCapability { Form = new FormElicitationCapability(), Url = new UrlElicitationCapability() },
                Sampling = new SamplingCapability(),
            },
            Handlers = new McpClientHandlers
            {
                NotificationHandlers = notifications,
                ElicitationHandler = relay.ElicitAsync,
                SamplingHandler = relay.SampleAsync,
            },
        };
    }

    private static StdioClientTransport CreateStdio(ConnectionSetup setup, string processMarker, ILogger logger)
    {
        var config = setup.Config;

        // Only a minimal environment (HOME, PATH, USER, ...) is passed on, not the gateway's own, which holds its
        // database, chat and OAuth secrets; an upstream gets what its configuration and the agent's credentials give it.
        var environment = StdioClientTransportOptions.GetDefaultEnvironmentVariables();
        foreach (var (name, value) in config.Env)
        {
            environment[name] = value;
        }

        foreach (var (name, value) in setup.Credentials?.Env ?? new Dictionary<string, string>())
        {
            environment[name] = value;
        }

        environment[ProcessSweeper.MarkerVariable] = processMarker;
        if (OrphanedProcesses.CurrentOwner is { } owner)
        {
            environment[OrphanedProcesses.OwnerVariable] = owner;
        }

        var upstream = setup.Upstream;
        return new StdioClientTransport(
            new StdioClientTransportOptions
            {
                Name = $"upstream-{upstream}",
                Command = config.Command ?? throw new InvalidOperationException($"upstream '{upstream}' has no command"),
                Arguments = [.. config.Args],
                WorkingDirectory = config.Cwd,
                InheritEnvironmentVariables = false,
                EnvironmentVariables = environment,
                ShutdownTimeout = ShutdownTimeout,
                StandardErrorLines = line => logger.StandardError(upstream, line),
            },
            // The SDK's stdio transport logs every stderr line at Information; stderr carries whatever the server
            // prints, secrets included, so it goes only to our Trace-level message above.
            NullLoggerFactory.Instance);
    }

    private static HttpClientTransport CreateHttp(ConnectionSetup setup, ClientCredentialsTokenSource? tokens, ILogger logger)
    {
        var config = setup.Config;

        // Header names are case-insensitive, so an agent's x-api-key replaces the upstream's X-Api-Key.
        var headers = new Dictionary<string, string>(config.Headers, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in setup.Credentials?.Headers ?? new Dictionary<string, string>())
        {
            headers[name] = value;
        }

        HttpMessageHandler handler = new SocketsHttpHandler { ConnectTimeout = config.Timeout };
        if (tokens is not null)
        {
            handler = new ClientCredentialsHandler(setup.Upstream, tokens, logger) { InnerHandler = handler };
        }

        // No client-wide timeout: the GET stream of a session stays open for as long as the session; every request
        // is bounded by the upstream's timeout instead.
        var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        return new HttpClientTransport(
            new HttpClientTransportOptions
            {
                Name = $"upstream-{setup.Upstream}",
                Endpoint = config.Url ?? throw new InvalidOperationException($"upstream '{setup.Upstream}' has no url"),
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = headers,
                ConnectionTimeout = config.Timeout,
            },
            http,
            NullLoggerFactory.Instance,
            ownsHttpClient: true);
    }
}
