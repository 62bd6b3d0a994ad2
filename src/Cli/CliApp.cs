using System.CommandLine;
using System.CommandLine.Invocation;
using System.Text;

namespace ApprovalEngine.Cli;

/// <summary>
/// The <c>approvals</c> command line: parses, runs one command, returns its exit code (<see cref="ExitCodes"/>).
/// The executable and in-process tests enter here.
/// </summary>
public static class CliApp
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliHost host, CancellationToken cancellationToken = default)
    {
        var root = Build(host);

        // "@file" is this CLI's syntax for JSON in a file; System.CommandLine would read it as a response file.
        var result = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });

        // System.CommandLine answers a parse error with exit code 1, which this CLI keeps for a failed check.
        if (result.Action is ParseErrorAction)
        {
            foreach (var error in result.Errors)
            {
                await host.Error.WriteLineAsync($"error: {error.Message}");
            }

            await host.Error.WriteLineAsync($"Run '{CommandPath(result)} --help' for usage.");
            return ExitCodes.Usage;
        }

        return await result.InvokeAsync(new InvocationConfiguration { Output = host.Out, Error = host.Error }, cancellationToken);
    }

    internal static RootCommand Build(CliHost host)
    {
        // Built per run, not static: System.CommandLine symbols record their parents, so sharing them across roots races.
        var context = new CliContext(host, new Option<bool>("--json")
        {
            Description = "Write the gateway's JSON instead of tables (for scripts and jq)",
            Recursive = true,
        });
        var root = new RootCommand(Description()) { context.Json };
        foreach (var command in AccountCommands.Build(context).Concat(ApprovalCommands.Build(context)).Concat(AuditCommands.Build(context)))
        {
            root.Subcommands.Add(command);
        }

        root.Subcommands.Add(PolicyCommands.Build(context));
        root.Subcommands.Add(ConfigCommands.Build(context));
        return root;
    }

    /// <summary>Runs <paramref name="run"/> as the command's action; a <see cref="CliFailure"/> becomes "error: ..." and its exit code.</summary>
    internal static void SetRun(this Command command, CliContext context, Func<ParseResult, CancellationToken, Task<int>> run) =>
        command.SetAction(async (result, cancellationToken) =>
        {
            try
            {
                return await run(result, cancellationToken);
            }
            catch (CliFailure failure)
            {
                await context.Host.Error.WriteLineAsync($"error: {failure.Message}");
                return failure.ExitCode;
            }
        });

    private static string Description()
    {
        var text = new StringBuilder("""
            Approve, deny and audit the Approval Engine gateway's gated tool calls.

            Log in once with 'approvals login --url https://gateway.example.com' (the token is read without echo, or from
            standard input with --token-stdin) or set APPROVALS_URL and APPROVALS_TOKEN.

            Exit codes:
            """);
        foreach (var (code, meaning) in ExitCodes.All)
        {
            text.Append($"\n  {code,2}  {meaning}");
        }

        return text.ToString();
    }

    private static string CommandPath(ParseResult result)
    {
        var names = new List<string>();
        for (var command = result.CommandResult; command is not null; command = command.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(command.Parent is null ? "approvals" : command.Command.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }
}

/// <summary>What every command needs: the host to read and write, and the shared <c>--json</c> option.</summary>
internal sealed record CliContext(CliHost Host, Option<bool> Json)
{
    public TextWriter Out => Host.Out;

    public TextWriter Error => Host.Error;

    public bool IsJson(ParseResult result) => result.GetValue(Json);

    public GatewayClient Connect() => Session.Connect(Host);
}
