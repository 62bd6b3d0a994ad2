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
        var (settings, error) = BenchArguments.Parse(
            args,
            Name,
            new GatedSettings(),
            ["--held", "--sessions", "--samples", "--clients", "--seconds", "--poll-interval", "--connection"],
            "held: 100-15000, sessions: 1-1000, samples: 10-10000, clients: 1-256, seconds: 1-60, poll-interval: 0.01-3600",
            static (settings, name, value) => name switch
            {
                "--held" when BenchArguments.Whole(value) is { } n and >= 100 and <= 15_000 => settings with { Held = n },
                "--sessions" when BenchArguments.Whole(value) is { } n and >= 1 and <= 1_000 => settings with { Sessions = n },
                "--samples" when BenchArguments.Whole(value) is { } n and >= 10 and <= 10_000 => settings with { Samples = n },
                "--clients" when BenchArguments.Whole(value) is { } n and >= 1 and <= 256 => settings with { Clients = n },
                "--seconds" when BenchArguments.Number(value) is { } s and >= 1 and <= 60 => settings with { SegmentDuration = TimeSpan.FromSeconds(s) },
                "--poll-interval" when BenchArguments.Number(value) is { } p and >= 0.01 and <= 3600 => settings with { PollInterval = TimeSpan.FromSeconds(p) },
                "--connection" when !string.IsNullOrWhiteSpace(value) => settings with { ConnectionString = value },
                _ => null,
            });
        if (settings is null)
        {
            return (null, error);
        }

        return settings.Sessions > settings.Held
            ? (null, $"--sessions ({settings.Sessions}) cannot exceed --held ({settings.Held}).")
            : (settings, null);
    }
}
