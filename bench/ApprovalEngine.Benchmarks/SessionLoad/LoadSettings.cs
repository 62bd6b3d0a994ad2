using System.Globalization;

namespace ApprovalEngine.Benchmarks.SessionLoad;

/// <summary>Command-line settings of the load benchmark: many agent sessions at once, allowed and gated calls mixed.</summary>
public sealed record LoadSettings
{
    public const string Name = "load";

    public const string Usage = """
        Usage: ApprovalEngine.Benchmarks load [options]
          --sessions N       concurrent MCP sessions, each one agent calling in a closed loop (default 1000, 1-5000)
          --duration S       measured seconds on each path, direct and through the gateway (default 60, 1-600)
          --warmup S         unmeasured seconds before each measured window, same load (default 5, 0-120)
          --gated-share F    share of calls that policy holds for an approval, 0-1 (default 0.1); an approver
                             approves them over the approvals API as they come
          --approvers N      decisions the approver sends at once (default 32, 1-64)
          --poll-interval S  the gateway runtime's PollInterval in seconds (default: as shipped, 1 s); every held
                             call re-reads its workflow once per interval
          --connection CS    use this PostgreSQL instead of starting a local one; needs CREATEDB
        """;

    public int Sessions { get; init; } = 1000;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(5);

    public double GatedShare { get; init; } = 0.1;

    public int Approvers { get; init; } = 32;

    public string? ConnectionString { get; init; }

    /// <summary>The runtime's safety-net poll on the gateway; null: as shipped.</summary>
    public TimeSpan? PollInterval { get; init; }

    /// <summary>Settings given to the gateway process as environment variables.</summary>
    public IReadOnlyDictionary<string, string> GatewayEnvironment => PollInterval is { } poll
        ? new Dictionary<string, string> { ["ApprovalEngine__Runtime__PollInterval"] = poll.ToString("c", CultureInfo.InvariantCulture) }
        : new Dictionary<string, string>();

    /// <summary>How long one call may take before it counts as an error (a gated call includes its approval).</summary>
    public static TimeSpan CallTimeout => TimeSpan.FromSeconds(60);

    public static (LoadSettings? Settings, string? Error) Parse(IReadOnlyList<string> args)
    {
        var (settings, error) = BenchArguments.Parse(
            args,
            Name,
            new LoadSettings(),
            ["--sessions", "--duration", "--warmup", "--gated-share", "--approvers", "--poll-interval", "--connection"],
            "sessions: 1-5000, duration: 1-600, warmup: 0-120, gated-share: 0-1, approvers: 1-64, poll-interval: 0.01-3600",
            static (settings, name, value) => name switch
            {
                "--sessions" when BenchArguments.Whole(value) is { } n and >= 1 and <= 5_000 => settings with { Sessions = n },
                "--duration" when BenchArguments.Number(value) is { } s and >= 1 and <= 600 => settings with { Duration = TimeSpan.FromSeconds(s) },
                "--warmup" when BenchArguments.Number(value) is { } s and >= 0 and <= 120 => settings with { Warmup = TimeSpan.FromSeconds(s) },
                "--gated-share" when BenchArguments.Number(value) is { } f and >= 0 and <= 1 => settings with { GatedShare = f },
                "--approvers" when BenchArguments.Whole(value) is { } n and >= 1 and <= 64 => settings with { Approvers = n },
                "--poll-interval" when BenchArguments.Number(value) is { } p and >= 0.01 and <= 3600 => settings with { PollInterval = TimeSpan.FromSeconds(p) },
                "--connection" when !string.IsNullOrWhiteSpace(value) => settings with { ConnectionString = value },
                _ => null,
            });
        return (settings, error);
    }


}
