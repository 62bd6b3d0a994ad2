using System.Diagnostics;
using System.Text.Json;
using ApprovalEngine.Gateway.Database;
using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Gateway.Verification;

/// <summary>
/// <c>verify</c>: recomputes the history hash chain of every workflow and reports the broken ones.
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

        Recomputes the history hash chain of every workflow created in [--from, --to) (all by default).
          --from <iso>   first creation time included, e.g. 2025-01-31 or 2025-01-31T08:00:00+02:00 (UTC unless an offset is given)
          --to <iso>     creation time where the range ends (excluded)
          --json         JSON lines: one object per broken chain, then the summary

        Database: ConnectionStrings:ApprovalEngine, else the embedded one in ApprovalEngine:DataDirectory (default .data/postgres).
        Exit code: 0 every chain is valid; 1 a chain is broken, or the check could not run; 2 bad arguments.
        """;

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

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
            var (_, broken) = await VerifyAsync(runtime, arguments, output, error, cancellationToken);
            return broken == 0 ? ExitValid : ExitBroken;
        }
        catch (GatewayStartupException e)
        {
            await error.WriteLineAsync($"verify: {e.Message}");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            await error.WriteLineAsync(
                "verify: this database has no workflow history tables. Is it the gateway's database? (The gateway creates them when it starts.)");
        }
        catch (NpgsqlException e)
        {
            await error.WriteLineAsync($"verify: could not read the database: {e.Message}{(e.InnerException is { } inner ? $" ({inner.Message})" : "")}");
        }

        // Fail closed: a check that did not run is not a clean result.
        return ExitBroken;
    }

    private static async Task<(int Verified, int Broken)> VerifyAsync(
        WorkflowRuntime runtime, VerifyArguments arguments, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        int verified = 0, broken = 0;
        var progress = Stopwatch.StartNew();
        await foreach (var chain in runtime.VerifyAllAsync(arguments.From, arguments.To, cancellationToken))
        {
            verified++;
            if (!chain.Valid)
            {
                broken++;
                await output.WriteLineAsync(arguments.Json
                    ? JsonSerializer.Serialize(chain, JsonOptions)
                    : $"BROKEN {chain.WorkflowId}: {chain.Problem} ({chain.Events} events)");
            }

            if (progress.Elapsed >= ProgressInterval)
            {
                await error.WriteLineAsync($"verify: {verified} chains so far, {broken} broken...");
                progress.Restart();
            }
        }

        await output.WriteLineAsync(arguments.Json
            ? JsonSerializer.Serialize(new { verified, broken }, JsonOptions)
            : $"{verified} chains verified, {broken} broken");
        return (verified, broken);
    }
}
