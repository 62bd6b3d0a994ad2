using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.AuditApi;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.WebConsole;
using ApprovalEngine.Gateway.Database;
using ApprovalEngine.Gateway.Health;
using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Mcp;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Gateway.Quickstart;
using ApprovalEngine.Gateway.Security;
using ApprovalEngine.Gateway.Status;
using ApprovalEngine.Gateway.Stdio;
using ApprovalEngine.Gateway.Telemetry;
using ApprovalEngine.Gateway.Upstreams;
using ApprovalEngine.Gateway.Verification;

// `verify` recomputes every history chain and exits: no web server, no worker.
if (VerifyCommand.Matches(args))
{
    return await VerifyCommand.RunAsync(args[1..], CommandConfiguration.Load(), Console.Out, Console.Error);
}

// `stdio --url` relays a local MCP client to a gateway over HTTP and exits with its client.
if (StdioBridge.Matches(args))
{
    return await StdioBridge.RunAsync(args, Environment.GetEnvironmentVariable, Console.Error, CancellationToken.None);
}

// `new-token` (a person) and `new-key` (an agent) print a new secret and the hash for the configuration, and exit.
if (NewSecretCommand.Matches(args))
{
    return NewSecretCommand.Run(args, Console.Out, Console.Error);
}

// `probe [url]` asks a running gateway whether it is ready, for container healthchecks, and exits.
if (ProbeCommand.Matches(args))
{
    return await ProbeCommand.RunAsync(args, Console.Out, Console.Error);
}

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.Configuration.AddCommandLine(args, CommandConfiguration.Switches);
    builder.UseDefaultListenAddress();
    builder.UseGatewayLoggingDefaults();
    builder.UseGracefulShutdown();

    // Checked before anything starts, so a bad value stops the node with a message instead of a half-started host.
    var configureRuntime = builder.Configuration.ReadRuntimeOptions();
    var configFile = builder.Configuration[ConfigurationHosting.ConfigFileKey] ?? QuickstartConsole.Prepare(builder, Console.Out);
    builder.Services.AddGatewayConfiguration(configFile);

    // The configured server, or an embedded one; from here on the host owns it and stops it when the host stops.
    var database = await GatewayDatabase.StartAsync(builder.Configuration);
    builder.Services.AddGatewayDatabase(database);
    builder.Services.AddWorkflowRuntime(database.ConnectionString, configureRuntime);

    // After the runtime: it applies the schema at start, and the audit drains before the database stops.
    builder.Services.AddToolCallAudit();
    builder.Services.AddUpstreams();
    builder.Services.AddPolicy();
    builder.Services.AddApprovals();
    builder.Services.AddTeamsApprovals();
    builder.Services.AddSlackApprovals();
    builder.Services.AddMcpEndpoint();
    builder.Services.AddHumanAuthentication();
    builder.Services.AddHumanRefusalAudit();
    builder.Services.AddHealthEndpoints();
    builder.Services.AddTelemetry(builder.Configuration);
    builder.Services.AddOpenApi(ApiDocument.Configure);

    var app = builder.Build();
    app.MapHealthEndpoints();
    app.MapMcpEndpoints();
    app.MapPolicyApi();
    app.MapApprovalsApi();
    app.MapAuditApi();
    app.MapStatusApi();
    app.MapOpenApi();
    app.MapTeamsMessages();
    app.MapSlackInteractions();
    app.MapConsole();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (StartupFailure.IsExpected(e))
{
    return StartupFailure.Report(e, Console.Error);
}

/// <summary>The gateway's entry point (public for <c>WebApplicationFactory&lt;Program&gt;</c> in tests).</summary>
public partial class Program;
