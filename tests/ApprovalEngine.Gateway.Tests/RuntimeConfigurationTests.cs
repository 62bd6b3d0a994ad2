using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.Configuration;

namespace ApprovalEngine.Gateway.Tests;

public sealed class RuntimeConfigurationTests
{
    [Fact]
    public void ReadRuntimeOptions_ValidSection_BindsEveryValue()
    {
        var configure = Configuration(("NodeId", "node-a"), ("LeaseDuration", "00:00:10"), ("RunWorker", "false")).ReadRuntimeOptions();

        var options = new WorkflowRuntimeOptions();
        configure(options);

        Assert.Equal("node-a", options.NodeId);
        Assert.Equal(TimeSpan.FromSeconds(10), options.LeaseDuration);
        Assert.False(options.RunWorker);
    }

    [Fact]
    public void ReadRuntimeOptions_BrokenRules_ReportsEveryProblem()
    {
        var configuration = Configuration(("LeaseDuration", "00:00:00.100"), ("MaxConcurrency", "0"));

        var e = Assert.Throws<GatewayStartupException>(() => configuration.ReadRuntimeOptions());

        Assert.Contains("ApprovalEngine:Runtime", e.Message);
        Assert.Contains("LeaseDuration must be at least 300 ms", e.Message);
        Assert.Contains("MaxConcurrency must be at least 1", e.Message);
    }

    [Fact]
    public void ReadRuntimeOptions_UnparsableValue_NamesTheKey()
    {
        var e = Assert.Throws<GatewayStartupException>(() => Configuration(("PollInterval", "soon")).ReadRuntimeOptions());

        Assert.Contains("ApprovalEngine:Runtime:PollInterval", e.Message);
    }

    [Fact]
    public void ReadRuntimeOptions_UnknownKey_NamesIt()
    {
        var e = Assert.Throws<GatewayStartupException>(() => Configuration(("LeaseDurration", "00:00:10")).ReadRuntimeOptions());

        Assert.Contains("LeaseDurration", e.Message);
    }

    [Fact]
    public void Report_StartupException_WritesOnlyTheMessage()
    {
        using var error = new StringWriter();

        var exitCode = StartupFailure.Report(new GatewayStartupException("install PostgreSQL"), error);

        Assert.Equal(1, exitCode);
        Assert.Equal("install PostgreSQL", error.ToString().Trim());
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] runtime) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(runtime.Select(r => KeyValuePair.Create($"{RuntimeConfiguration.SectionName}:{r.Key}", (string?)r.Value)))
            .Build();
}
