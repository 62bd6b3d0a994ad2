using System.Globalization;
using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Workflows.Runtime;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ApprovalEngine.Gateway.Telemetry;

/// <summary>
/// Exports traces and metrics over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (environment or any other
/// configuration source), with the standard settings: <c>OTEL_EXPORTER_OTLP_PROTOCOL</c> (<c>grpc</c>, the default, or
/// <c>http/protobuf</c>), <c>OTEL_EXPORTER_OTLP_HEADERS</c>, <c>OTEL_SERVICE_NAME</c>, <c>OTEL_METRIC_EXPORT_INTERVAL</c> and
/// <c>OTEL_BSP_SCHEDULE_DELAY</c> (milliseconds). The providers flush when the host stops.
/// </summary>
public static class TelemetryHosting
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string DefaultServiceName = "approval-engine";

    /// <summary>The sources the providers listen to: ours, ASP.NET Core's server spans and HttpClient's client spans.</summary>
    public static IReadOnlyList<string> Sources { get; } = [GatewayTelemetry.Name, WorkflowTelemetry.Name, "Microsoft.AspNetCore", "System.Net.Http"];

    /// <summary>The meters exported: ours, and ASP.NET Core's request metrics.</summary>
    public static IReadOnlyList<string> Meters { get; } = [GatewayTelemetry.Name, WorkflowTelemetry.Name, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel"];

    /// <exception cref="GatewayStartupException">A setting is present but invalid (named in the message).</exception>
    public static IServiceCollection AddTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration[EndpointKey] is not { Length: > 0 } endpointText)
        {
            return services;
        }

        var settings = OtlpSettings.Read(configuration, endpointText);
        services.AddSingleton(_ => Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(settings.Describe)
            .AddSource([.. Sources])
            .AddOtlpExporter(options =>
            {
                settings.Apply(options, "v1/traces");
                options.BatchExportProcessorOptions.ScheduledDelayMilliseconds = settings.BatchDelayMilliseconds;
            })
            .Build());
        services.AddSingleton(_ => Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(settings.Describe)
            .AddMeter([.. Meters])
            .AddOtlpExporter((exporter, reader) =>
            {
                settings.Apply(exporter, "v1/metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = settings.MetricIntervalMilliseconds;
            })
            .Build());

        // Built at start, so spans of the first requests are not lost; disposed (flushed) by the container at stop.
        services.AddHostedService<TelemetryStart>();
        return services;
    }

    private sealed class TelemetryStart(TracerProvider tracer, MeterProvider meter) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(tracer);
            GC.KeepAlive(meter);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed record OtlpSettings(Uri Endpoint, OtlpExportProtocol Protocol, string? Headers, string ServiceName, int MetricIntervalMilliseconds, int BatchDelayMilliseconds)
    {
        public static OtlpSettings Read(IConfiguration configuration, string endpointText)
        {
            if (!Uri.TryCreate(endpointText, UriKind.Absolute, out var endpoint) || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            {
                throw new GatewayStartupException($"{EndpointKey} must be an absolute http or https URL (got '{endpointText}').");
            }

            var protocol = configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] switch
            {
                null or "" or "grpc" => OtlpExportProtocol.Grpc,
                "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
                var other => throw new GatewayStartupException($"OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf (got '{other}')."),
            };
            return new OtlpSettings(
                endpoint,
                protocol,
                configuration["OTEL_EXPORTER_OTLP_HEADERS"],
                configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : DefaultServiceName,
                Milliseconds(configuration, "OTEL_METRIC_EXPORT_INTERVAL", 60_000),
                Milliseconds(configuration, "OTEL_BSP_SCHEDULE_DELAY", 5_000));
        }

        public void Describe(ResourceBuilder resource) =>
            resource.AddService(ServiceName, serviceVersion: typeof(TelemetryHosting).Assembly.GetName().Version?.ToString(), serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId);

        /// <summary>Over HTTP each signal has its own path under the endpoint (as the SDK does when it reads the environment itself).</summary>
        public void Apply(OtlpExporterOptions options, string signalPath)
        {
            options.Protocol = Protocol;
            options.Endpoint = Protocol == OtlpExportProtocol.HttpProtobuf ? new Uri(Endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath) : Endpoint;
            if (Headers is not null)
            {
                options.Headers = Headers;
            }
        }

        private static int Milliseconds(IConfiguration configuration, string key, int fallback) =>
            configuration[key] is not { Length: > 0 } text ? fallback
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value
            : throw new GatewayStartupException($"{key} must be a positive number of milliseconds (got '{text}').");
    }
}
