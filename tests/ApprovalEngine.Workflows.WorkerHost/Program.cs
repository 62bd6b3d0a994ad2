using ApprovalEngine.Activities;
using ApprovalEngine.Workflows.WorkerHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// A worker node in its own process, so a test can kill -9 it mid-call: --connection <cs> [--lease-ms N].
var builder = Host.CreateApplicationBuilder(args);
var connectionString = builder.Configuration["connection"]
    ?? throw new ArgumentException("Usage: --connection <connection string> [--lease-ms N]");
var leaseMs = builder.Configuration.GetValue("lease-ms", 1500);

builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddWorkflowRuntime(connectionString, o =>
{
    o.LeaseDuration = TimeSpan.FromMilliseconds(leaseMs);
    o.PollInterval = TimeSpan.FromMilliseconds(200);
    // Expired leases are the test's to reap, at the moment it chooses.
    o.ReaperInterval = TimeSpan.FromHours(1);
    o.MigrateOnStart = false;
});
builder.Services.AddApprovalActivities();
builder.Services.AddSingleton<IToolInvoker, RecordingHangingInvoker>();

using var host = builder.Build();
await host.StartAsync();
Console.WriteLine("ready");
await host.WaitForShutdownAsync();
