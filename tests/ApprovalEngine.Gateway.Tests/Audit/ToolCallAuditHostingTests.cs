using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using static ApprovalEngine.Gateway.Tests.Audit.AuditFixtures;

namespace ApprovalEngine.Gateway.Tests.Audit;

public sealed class ToolCallAuditHostingTests
{
    [Fact]
    public async Task AddToolCallAudit_HostOnUnmigratedDatabase_MigratesWritesQueriesAndStopsWithTheHost()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("audit_host", migrate: false);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services
            .AddWorkflowRuntime(connectionString, o => o.RunWorker = false)
            .AddToolCallAudit(o => o.MaxBatchSize = 64);
        using var host = builder.Build();
        await host.StartAsync();

        var audit = host.Services.GetRequiredService<IToolCallAudit>();
        var writer = host.Services.GetRequiredService<ToolCallAuditWriter>();
        var receipts = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => audit.AppendAsync(Record(i, bundle: "hosted"))));
        var page = await host.Services.GetRequiredService<ToolCallAuditQueries>().QueryAsync(new ToolCallAuditFilter { Bundle = "hosted", Limit = 1000 });
        var streams = new List<AuditStreamVerification>();
        await foreach (var stream in host.Services.GetRequiredService<ToolCallAuditVerifier>().VerifyAsync())
        {
            streams.Add(stream);
        }

        await host.StopAsync();

        Assert.Same(writer, audit);
        Assert.Equal(100, page.Items.Count);
        Assert.All(receipts, r => Assert.Equal(writer.StreamId, r.StreamId));
        Assert.True(Assert.Single(streams).Valid);
        await Assert.ThrowsAsync<ToolCallAuditException>(() => audit.AppendAsync(Record(100)));
        Assert.Equal("{}", host.Services.GetRequiredService<IArgumentRedactor>().Redact((System.Text.Json.JsonElement?)null));
    }

    [Fact]
    public void AddToolCallAudit_InvalidOptions_FailsNamingTheOption()
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddWorkflowRuntime("Host=127.0.0.1;Username=postgres", o => o.RunWorker = false)
            .AddToolCallAudit(o => o.MaxBatchSize = 0);
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => provider.GetRequiredService<IToolCallAudit>());

        Assert.Contains("MaxBatchSize", e.Message, StringComparison.Ordinal);
    }
}
