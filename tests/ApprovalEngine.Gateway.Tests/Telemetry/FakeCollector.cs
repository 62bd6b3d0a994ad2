using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ApprovalEngine.Gateway.Tests.Telemetry;

/// <summary>An OpenTelemetry collector on 127.0.0.1 that takes OTLP/HTTP protobuf exports and decodes spans and metric names.</summary>
internal sealed class FakeCollector : IAsyncDisposable
{
    private readonly WebApplication app;

    private FakeCollector(WebApplication app)
    {
        this.app = app;
        app.MapPost("/v1/traces", async (HttpContext context) =>
        {
            var body = await ReadAsync(context);
            foreach (var resourceSpans in Protobuf.All(body, 1))
            {
                var service = ServiceName(Protobuf.One(resourceSpans, 1));
                foreach (var scopeSpans in Protobuf.All(resourceSpans, 2))
                {
                    foreach (var span in Protobuf.All(scopeSpans, 2))
                    {
                        var fields = Protobuf.Fields(span);
                        string Hex(int number) => Convert.ToHexStringLower(fields.FirstOrDefault(f => f.Number == number && f.WireType == 2).Bytes.Span);
                        Spans.Enqueue(new Span(service, Hex(1), Hex(2), Hex(4), fields.First(f => f.Number == 5).Text, (int)fields.FirstOrDefault(f => f.Number == 6).Value));
                    }
                }
            }

            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/metrics", async (HttpContext context) =>
        {
            var body = await ReadAsync(context);
            foreach (var resourceMetrics in Protobuf.All(body, 1))
            {
                foreach (var scopeMetrics in Protobuf.All(resourceMetrics, 2))
                {
                    foreach (var metric in Protobuf.All(scopeMetrics, 2))
                    {
                        MetricNames[Protobuf.Fields(metric).First(f => f.Number == 1).Text] = true;
                    }
                }
            }

            return Results.Bytes([], "application/x-protobuf");
        });
    }

    /// <summary>A received span; ids in lowercase hex, the parent empty for a root; kind as OTLP numbers it (2 server, 3 client).</summary>
    public sealed record Span(string Service, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind);

    public string Endpoint { get; private set; } = string.Empty;

    public ConcurrentQueue<Span> Spans { get; } = new();

    public ConcurrentDictionary<string, bool> MetricNames { get; } = new();

    public static async Task<FakeCollector> StartAsync()
    {
        var collector = new FakeCollector(LoopbackServer.Build());
        collector.Endpoint = await LoopbackServer.StartAsync(collector.app);
        return collector;
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();

    private static async Task<ReadOnlyMemory<byte>> ReadAsync(HttpContext context)
    {
        if (context.Request.ContentType != "application/x-protobuf")
        {
            throw new InvalidOperationException($"OTLP/HTTP sends application/x-protobuf, not {context.Request.ContentType}");
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    // Resource { repeated KeyValue attributes = 1 }, KeyValue { key = 1; AnyValue value = 2 }, AnyValue { string_value = 1 }.
    private static string ServiceName(ReadOnlyMemory<byte> resource) =>
        Protobuf.All(resource, 1)
            .Where(attribute => Protobuf.Fields(attribute).Any(f => f.Number == 1 && f.Text == "service.name"))
            .Select(attribute => Protobuf.Fields(Protobuf.One(attribute, 2)).First(f => f.Number == 1).Text)
            .FirstOrDefault() ?? string.Empty;
}
