using System.Globalization;

namespace ApprovalEngine.Benchmarks.Gated;

/// <summary>Command-line settings of the gated-calls benchmark. Every step is bounded in count and time.</summary>
public sealed record GatedSettings
{
    public const string Name = "gated";

    public const string Usage = """
        Usage: ApprovalEngine.Benchmarks gated [options]
          --held N           gated calls held at once on one gateway node for the memory figure (default 10000,
                             100-15000; each is an open HTTP connection, so keep it under the open-file limit)
          --sessions N       MCP sessions those calls share (default 100)
          --samples N        decision-to-result samples on the same node and across nodes (default 200 each)
          --clients N        concurrent clients of the end-to-end segment, each call → approve → result (default 16)
          --seconds N        measured duration of the end-to-end segment (default 10)
          --poll-interval S  the runtime's PollInterval on both gateways, in seconds (default: as shipped, 1 s);
                             every held call re-reads its workflow once per interval
          --connection CS    use this PostgreSQL instead of starting a local one; needs CREATEDB
        """;

    public int Held { get; init; } = 10_000;

    public int Sessions { get; init; } = 100;

    public int Samples { get; init; } = 200;

    public int Clients { get; init; } = 16;

    public TimeSpan SegmentDuration { get; init; } = TimeSpan.FromSeconds(10);

    public string? ConnectionString { get; init; }

    /// <summary>The runtime's safety-net poll on both gateways; null: as shipped.</summary>
    public TimeSpan? PollInterval { get; init; }

    /// <summary>Settings given to both gateway processes as environment variables.</summary>
    public IReadOnlyDictionary<string, string> GatewayEnvironment => PollInterval is { } poll
        ? new Dictionary<string, string> { ["ApprovalEngine__Runtime__PollInterval"] = poll.ToString("c", CultureInfo.InvariantCulture) }
        : new Dictionary<string, string>();

    /// <summary>Unmeasured samples or cycles before each measured step: JIT, pools, the gateway's tiered compilation.</summary>
    public int WarmupSamples => Math.Max(20, Samples / 5);

    public TimeSpan Warmup => TimeSpan.FromSeconds(2);

    public static (GatedSettings? Settings, string? Error) Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0] != Name)
        {
            return (null, "Missing the benchmark name.");
        }

        var settings = new GatedSettings();
        for (var i = 1; i < args.Count; i += 2)
        {
            var name = args[i];
            if (i + 1 >= args.Count)
            {
                return (null, $"{name} needs a value.");
            }

            var value = args[i + 1];
            switch (name)
            {
                case "--held" when Whole(value) is { } n and >= 100 and <= 15_000:
                    settings = settings with { Held = n };
                    break;
                case "--sessions" when Whole(value) is { } n and >= 1 and <= 1_000:
                    settings = settings with { Sessions = n };
                    break;
                case "--samples" when Whole(value) is { } n and >= 10 and <= 10_000:
                    settings = settings with { Samples = n };
                    break;
                case "--clients" when Whole(value) is { } n and >= 1 and <= 256:
                    settings = settings with { Clients = n };
                    break;
                case "--seconds" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s is >= 1 and <= 60:
                    settings = settings with { SegmentDuration = TimeSpan.FromSeconds(s) };
                    break;
                case "--poll-interval" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var p) && p is >= 0.01 and <= 3600:
                    settings = settings with { PollInterval = TimeSpan.FromSeconds(p) };
                    break;
                case "--connection" when !string.IsNullOrWhiteSpace(value):
                    settings = settings with { ConnectionString = value };
                    break;
                case "--held" or "--sessions" or "--samples" or "--clients" or "--seconds" or "--poll-interval" or "--connection":
                    return (null, $"Invalid value '{value}' for {name} (held: 100-15000, sessions: 1-1000, samples: 10-10000, clients: 1-256, seconds: 1-60, poll-interval: 0.01-3600).");
                default:
                    return (null, $"Unknown option '{name}'.");
            }
        }

        return settings.Sessions > settings.Held
            ? (null, $"--sessions ({settings.Sessions}) cannot exceed --held ({settings.Held}).")
            : (settings, null);
    }

    private static int? Whole(string value) => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
}
