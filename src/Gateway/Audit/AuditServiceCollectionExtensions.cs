using ApprovalEngine.Gateway.Audit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static class AuditServiceCollectionExtensions
{
    /// <summary>
    /// Add the tool-call audit: <see cref="IToolCallAudit"/> (the group-commit <see cref="ToolCallAuditWriter"/>, started
    /// and drained with the host), <see cref="IArgumentRedactor"/>, <see cref="ToolCallAuditQueries"/> and
    /// <see cref="ToolCallAuditVerifier"/>. It uses the host's <c>NpgsqlDataSource</c>: call it after
    /// <c>AddWorkflowRuntime</c>, which registers that data source and applies the schema when the host starts.
    /// </summary>
    public static IServiceCollection AddToolCallAudit(
        this IServiceCollection services, Action<ToolCallAuditOptions>? configure = null, ArgumentRedactorOptions? redaction = null)
    {
        services.AddOptions<ToolCallAuditOptions>().Configure(o => configure?.Invoke(o));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ToolCallAuditOptions>, ToolCallAuditOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IArgumentRedactor>(_ => new ArgumentRedactor(redaction));
        services.TryAddSingleton<ToolCallAuditWriter>();
        services.TryAddSingleton<IToolCallAudit>(sp => sp.GetRequiredService<ToolCallAuditWriter>());
        services.TryAddSingleton<ToolCallAuditQueries>();
        services.TryAddSingleton<ToolCallAuditVerifier>();
        services.AddHostedService<ToolCallAuditLifetime>();
        return services;
    }

    private sealed class ToolCallAuditOptionsValidator : IValidateOptions<ToolCallAuditOptions>
    {
        public ValidateOptionsResult Validate(string? name, ToolCallAuditOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => $"ToolCallAudit: {e}"));
        }
    }
}
