using System.Globalization;

namespace ApprovalEngine.Benchmarks.Gateway;

/// <summary>Which MCP server stands behind the gateway (and is called directly for the baseline).</summary>
public enum UpstreamKind
{
    /// <summary>This program's <see cref="EchoUpstream"/>: the C# SDK on Kestrel, one <c>echo</c> tool.</summary>
    Dotnet,

    /// <summary>The Node fixture server of tests/mcp-peers (TypeScript SDK), tool <c>test_simple_text</c>.</summary>
    Node,
}

/// <summary>Command-line settings of the gateway benchmark. Every segment is bounded by <see cref="SegmentDuration"/>.</summary>
public sealed record GatewaySettings
{
    public const string Name = "gateway";

    public const string Usage = """
        Usage: ApprovalEngine.Benchmarks gateway [options]
          --seconds N        measured duration of each segment (default 5; peak search: half, at least 2)
          --clients LIST     concurrency levels compared in the table (default 1,32)
          --rounds N         direct/gateway pairs per level, order alternating, samples pooled (default 2)
          --peak LIST        levels of the peak-throughput search; it stops at the first level where neither
                             rate rises by 5% (default 64,128,256; "none" skips it)
          --upstream KIND    dotnet (this program's C# echo server, default) or node (tests/mcp-peers fixture)
          --gateway-logs L   default (as shipped) or quiet (the MCP SDK's log categories at Error: no per-call
                             log lines), to see what the gateway's logging costs
          --gateway-env K=V  an environment variable for the gateway process only, e.g. a .NET runtime setting
                             (DOTNET_gcServer=0); repeatable
          --cpus MODE        shared (default): every process may use every CPU; split: the gateway and its
                             PostgreSQL on one half of the CPUs, the clients and the upstream on the other (taskset),
                             as when the gateway has a host of its own
          --connection CS    use this PostgreSQL instead of starting a local one; needs CREATEDB (not with split)
        """;

    public TimeSpan SegmentDuration { get; init; } = TimeSpan.FromSeconds(5);

    public IReadOnlyList<int> Clients { get; init; } = [1, 32];

    public int Rounds { get; init; } = 2;

    public IReadOnlyList<int> Peak { get; init; } = [64, 128, 256];

    public UpstreamKind Upstream { get; init; } = UpstreamKind.Dotnet;

    /// <summary>Quiet: the gateway runs with <c>Logging:LogLevel:ModelContextProtocol=Error</c>.</summary>
    public bool QuietGatewayLogs { get; init; }

    public string? ConnectionString { get; init; }

    public CpuMode Cpus { get; init; } = CpuMode.Shared;

    /// <summary>What the gateway runs with beyond what it ships with, for the report.</summary>
    public string GatewayDescription =>
        $"logs {(QuietGatewayLogs ? "quiet (ModelContextProtocol at Error)" : "as shipped")}{string.Concat(ExtraGatewayEnvironment.Select(e => $", {e.Key}={e.Value}"))}";

    /// <summary>From <c>--gateway-env</c>, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ExtraGatewayEnvironment { get; init; } = [];

    /// <summary>Settings given to the gateway process as environment variables.</summary>
    public IReadOnlyDictionary<string, string> GatewayEnvironment
    {
        get
        {
            var environment = new Dictionary<string, string>(ExtraGatewayEnvironment, StringComparer.Ordinal);
            if (QuietGatewayLogs)
            {
                environment["Logging__LogLevel__ModelContextProtocol"] = "Error";
            }

            return environment;
        }
    }

    /// <summary>Unmeasured calls before each segment: JIT, connection pools, the gateway's tiered compilation.</summary>
    public TimeSpan Warmup => TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, SegmentDuration.Ticks / 5));

    public TimeSpan PeakDuration => TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(2).Ticks, SegmentDuration.Ticks / 2));

    /// <summary>The most MCP sessions a run opens on each target.</summary>
    public int MaxClients => Clients.Concat(Peak).DefaultIfEmpty(1).Max();

    public static (GatewaySettings? Settings, string? Error) Parse(IReadOnlyList<string> args)
    {
        var (settings, error) = BenchArguments.Parse(
            args,
            Name,
            new GatewaySettings(),
            ["--seconds", "--clients", "--rounds", "--peak", "--upstream", "--gateway-logs", "--gateway-env", "--cpus", "--connection"],
            "seconds: 1-60, clients and peak: comma-separated 1-512, rounds: 1-10, upstream: dotnet or node, gateway-logs: default or quiet, gateway-env: NAME=value, cpus: shared or split",
            static (settings, name, value) => name switch
            {
                "--seconds" when BenchArguments.Number(value) is { } s and >= 1 and <= 60 => settings with { SegmentDuration = TimeSpan.FromSeconds(s) },
                "--clients" when Levels(value) is { Count: > 0 } levels => settings with { Clients = levels },
                "--rounds" when BenchArguments.Whole(value) is { } r and >= 1 and <= 10 => settings with { Rounds = r },
                "--peak" when value == "none" => settings with { Peak = [] },
                "--peak" when Levels(value) is { Count: > 0 } levels => settings with { Peak = levels },
                "--upstream" when Enum.TryParse<UpstreamKind>(value, ignoreCase: true, out var kind) && Enum.IsDefined(kind) => settings with { Upstream = kind },
                "--gateway-logs" when value is "default" or "quiet" => settings with { QuietGatewayLogs = value == "quiet" },
                "--gateway-env" when value.IndexOf('=', StringComparison.Ordinal) is > 0 and var at =>
                    settings with { ExtraGatewayEnvironment = [.. settings.ExtraGatewayEnvironment, new(value[..at], value[(at + 1)..])] },
                "--cpus" when Enum.TryParse<CpuMode>(value, ignoreCase: true, out var cpus) && Enum.IsDefined(cpus) => settings with { Cpus = cpus },
                "--connection" when !string.IsNullOrWhiteSpace(value) => settings with { ConnectionString = value },
                _ => null,
            });
        return (settings, error);
    }

    /// <summary>"1,32" → [1, 32]; null if any item is not a whole number from 1 to 512.</summary>
    private static List<int>? Levels(string value)
    {
        var levels = new List<int>();
        foreach (var item in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(item, CultureInfo.InvariantCulture, out var level) || level is < 1 or > 512)
            {
                return null;
            }

            levels.Add(level);
        }

        return levels.Distinct().ToList();
    }
}
