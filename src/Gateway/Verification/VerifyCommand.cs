using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Database;
using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Gateway.Verification;

/// <summary>
/// <c>verify</c>: recomputes the history hash chain of every workflow and every tool-call audit stream, and reports the
/// broken ones.
/// It runs no web server and no worker: only the queries, on the same database the server would use.
/// </summary>
public static class VerifyCommand
{
    public const string Name = "verify";
    public const int ExitValid = 0;
    public const int ExitBroken = 1;
    public const int ExitBadArguments = 2;

    public const string Usage = """
        Usage: ApprovalEngine.Gateway verify [--from <iso>] [--to <iso>] [--json]

        Recomputes the history hash chain of every workflow created in [--from, --to) (all by default), and the
        tool-call audit chain streams over the calls started in that range (with every record between them).
          --from <iso>   first creation time included, e.g. 2025-01-31 or 2025-01-31T08:00:00+02:00 (UTC unless an offset is given)
          --to <iso>     creation time where the range ends (excluded); without it, deletions of the newest audit records are checked too
          --json         JSON lines: one object per broken workflow chain, one per broken audit stream, then the summary

        Database: ConnectionStrings:ApprovalEngine, else the embedded one in ApprovalEngine:DataDirectory (default .data/postgres).
        Exit code: 0 every chain is valid; 1 a chain or audit stream is broken, or the check could not run; 2 bad arguments.
        """;

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static bool Matches(IReadOnlyList<string> args) => args.Count > 0 && args[0] == Name;

    /// <summary>Runs the command; <paramref name="args"/> are those after <c>verify</c>. Returns the exit code.</summary>
    public static async Task<int> RunAsync(
        IReadOnlyList<string> args, IConfiguration configuration, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        if (!VerifyArguments.TryParse(args, out var arguments, out var problem))
        {
            await error.WriteLineAsync($"verify: {problem}");
            await error.WriteLineAsync($"Run '{Name} --help' for usage.");
            return ExitBadArguments;
        }

        if (arguments.Help)
        {
            await output.WriteLineAsync(Usage);
            return ExitValid;
        }

        try
        {
            await using var database = await GatewayDatabase.OpenExistingAsync(configuration, cancellationToken);
            await using var services = new ServiceCollection()
                .AddLogging()
                .AddWorkflowRuntime(database.ConnectionString, o => (o.RunWorker, o.MigrateOnStart) = (false, false))
                .BuildServiceProvider();
            var runtime = services.GetRequiredService<WorkflowRuntime>();
            var audit = new ToolCallAuditVerifier(services.GetRequiredService<NpgsqlDataSource>());
            var broken = await VerifyAsync(runtime, audit, arguments, output, error, cancellationToken);
            return broken == 0 ? ExitValid : ExitBroken;
        }
        catch (GatewayStartupException e)
        {
            await error.WriteLineAsync($"verify: {e.Message}");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            // e.TableName is not set for a missing relation; the message names it ("relation \"x\" does not exist").
            await error.WriteLineAsync(
                $"verify: this database has no workflow history tables or no tool-call audit tables ({e.MessageText}). " +
                "Is it the gateway's database? (The gateway creates them when it starts.)");
        }
        catch (NpgsqlException e)
        {
            await error.WriteLineAsync($"verify: could not read the database: {e.Message}{(e.InnerException is { } inner ? $" ({inner.Message})" : "")}");
        }

        // Fail closed: a check that did not run is not a clean result.
        return ExitBroken;
    }

    /// <summary>Writes the report; returns how many workflow chains and audit streams are broken.</summary>
    private static async Task<int> VerifyAsync(
        WorkflowRuntime runtime, ToolCallAuditVerifier audit, VerifyArguments arguments, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        int chains = 0, brokenChains = 0, streams = 0, brokenStreams = 0;
        var progress = Stopwatch.StartNew();
        async ValueTask ProgressAsync(string what, int count, int broken)
        {
            if (progress.Elapsed >= ProgressInterval)
            {
                await error.WriteLineAsync($"verify: {count} {what} so far, {broken} broken...");
                progress.Restart();
            }
        }

        var summary = await new ChainCheck(runtime, audit).RunAsync(
            arguments.From,
            arguments.To,
            async chain =>
            {
                chains++;
                if (!chain.Valid)
                {
                    brokenChains++;
                    await output.WriteLineAsync(arguments.Json
                        ? JsonSerializer.Serialize(chain, JsonOptions)
                        : $"BROKEN {chain.WorkflowId}: {chain.Problem} ({chain.Events} events)");
                }

                await ProgressAsync("chains", chains, brokenChains);
            },
            async stream =>
            {
                streams++;
                if (!stream.Valid)
                {
                    brokenStreams++;
                    await WriteBrokenStreamAsync(stream, arguments.Json, output);
                }

                await ProgressAsync("audit streams", streams, brokenStreams);
            },
            cancellationToken);

        if (arguments.Json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(
                new { verified = summary.Workflows, broken = summary.BrokenWorkflows, audit = new { streams = summary.Streams, records = summary.Records, broken = summary.BrokenStreams } },
                JsonOptions));
        }
        else
        {
            await output.WriteLineAsync($"{summary.Workflows} chains verified, {summary.BrokenWorkflows} broken");
            await output.WriteLineAsync($"{summary.Streams} audit streams verified ({summary.Records} records), {summary.BrokenStreams} broken");
        }

        return summary.BrokenWorkflows + summary.BrokenStreams;
    }

    private static async Task WriteBrokenStreamAsync(AuditStreamVerification stream, bool json, TextWriter output)
    {
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(new { auditStream = stream }, JsonOptions));
            return;
        }

        // One line per problem, each naming stream and seq, so a report can be grepped for either.
        foreach (var problem in stream.Problems)
        {
            var seqs = problem.Seq == problem.ThroughSeq ? $"seq {problem.Seq}" : $"seq {problem.Seq}-{problem.ThroughSeq}";
            await output.WriteLineAsync($"BROKEN audit stream {stream.StreamId} {seqs}: {problem.Detail} [{problem.Kind}]");
        }

        if (stream.ProblemCount > stream.Problems.Count)
        {
            await output.WriteLineAsync($"BROKEN audit stream {stream.StreamId}: {stream.ProblemCount - stream.Problems.Count} more problems");
        }
    }
}
