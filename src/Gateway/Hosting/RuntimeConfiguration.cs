using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.Options;

namespace ApprovalEngine.Gateway.Hosting;

public static class RuntimeConfiguration
{
    public const string SectionName = "ApprovalEngine:Runtime";

    /// <summary>
    /// The runtime's settings from <c>ApprovalEngine:Runtime</c>, checked now with the runtime's own validator so that
    /// a bad value stops the node before it starts a database. Unknown keys are errors: a typo must not fall back silently.
    /// </summary>
    /// <exception cref="GatewayStartupException">A value does not bind or breaks a rule; the message names every problem.</exception>
    public static Action<WorkflowRuntimeOptions> ReadRuntimeOptions(this IConfiguration configuration)
    {
        var section = configuration.GetSection(SectionName);
        void Configure(WorkflowRuntimeOptions options) => section.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);

        // The validator is the runtime's; resolving the options from a registration of their own runs it without starting anything.
        var services = new ServiceCollection();
        services.AddWorkflowRuntime("Host=validation-only", Configure);
        using var provider = services.BuildServiceProvider();
        try
        {
            _ = provider.GetRequiredService<IOptions<WorkflowRuntimeOptions>>().Value;
        }
        catch (OptionsValidationException e)
        {
            throw new GatewayStartupException(
                $"Invalid configuration in {SectionName}:{Environment.NewLine}{string.Join(Environment.NewLine, e.Failures.Select(f => $"  {f}"))}", e);
        }
        catch (InvalidOperationException e)
        {
            // The binder's messages name the key and the expected type.
            throw new GatewayStartupException($"Invalid configuration in {SectionName}: {e.Message}", e);
        }

        return Configure;
    }
}
