using ApprovalEngine.Gateway.Database;
using ApprovalEngine.Gateway.Health;
using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Gateway.Verification;

// `verify` recomputes every history chain and exits: no web server, no worker.
if (VerifyCommand.Matches(args))
{
    return await VerifyCommand.RunAsync(args[1..], CommandConfiguration.Load(), Console.Out, Console.Error);
}

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.UseDefaultListenAddress();
    builder.UseGatewayLoggingDefaults();

    // Checked before anything starts, so a bad value stops the node with a message instead of a half-started host.
    var configureRuntime = builder.Configuration.ReadRuntimeOptions();

    // The configured server, or an embedded one; from here on the host owns it and stops it when the host stops.
    var database = await GatewayDatabase.StartAsync(builder.Configuration);
    builder.Services.AddGatewayDatabase(database);

    // No activities yet (no upstreams): this node runs the runtime's timers only.
    builder.Services.AddWorkflowRuntime(database.ConnectionString, configureRuntime);

    // After the runtime: it applies the schema at start, and the audit drains before the database stops.
    builder.Services.AddToolCallAudit();
    builder.Services.AddHealthEndpoints();

    var app = builder.Build();
    app.MapHealthEndpoints();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (StartupFailure.IsExpected(e))
{
    return StartupFailure.Report(e, Console.Error);
}

/// <summary>The gateway's entry point (public for <c>WebApplicationFactory&lt;Program&gt;</c> in tests).</summary>
public partial class Program;
