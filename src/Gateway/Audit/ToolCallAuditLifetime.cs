namespace ApprovalEngine.Gateway.Audit;

/// <summary>
/// Starts the writer with the host and drains it when the host stops. Registered after the workflow runtime (which
/// applies the migrations when it starts), so it starts after the schema exists and stops before the database does.
/// </summary>
internal sealed class ToolCallAuditLifetime(ToolCallAuditWriter writer) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        writer.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => writer.StopAsync(cancellationToken);
}
