using System.CommandLine;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Cli;

/// <summary><c>pending</c>, <c>show</c>, <c>history</c>, <c>approve</c>, <c>deny</c> and <c>withdraw</c>.</summary>
internal static class ApprovalCommands
{
    private static readonly string[] PendingColumns = ["ID", "STATUS", "AGENT", "TOOL", "RULE", "VOTES", "APPROVERS", "DEADLINE", "YOU"];

    public static IEnumerable<Command> Build(CliContext context)
    {
        yield return Pending(context);
        yield return Show(context);
        yield return History(context);
        yield return Decide(context, "approve", "Approve a pending call (a vote, when the quorum is more than one)");
        yield return Decide(context, "deny", "Deny a pending call; the agent gets the reason");
        yield return Decide(context, "withdraw", "Withdraw an open approval (admins)");
    }

    private static Argument<Guid> IdArgument() => new("id") { Description = "The approval's id" };

    private static Command Pending(CliContext context)
    {
        var status = new Option<string?>("--status") { Description = "open (pending and escalated; the default), pending, escalated, approved, denied, expired, cancelled, executing, completed, failed, in_doubt" };
        var mine = new Option<bool>("--mine") { Description = "Only approvals you are an approver of (implied for approvers without the auditor or admin role)" };
        var limit = Paging.LimitOption("Approvals per page");
        var all = Paging.AllOption();
        var command = new Command("pending", "List open approvals (newest first); YOU says whether you may decide") { status, mine, limit, all };
        command.SetRun(context, async (result, cancellationToken) =>
        {
            using var client = context.Connect();
            var (items, next) = await Paging.ReadAsync(client, cursor => Inputs.Query("api/approvals",
                ("status", result.GetValue(status)),
                ("mine", result.GetValue(mine) ? "true" : null),
                ("limit", result.GetValue(limit)?.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("cursor", cursor)), result.GetValue(all), cancellationToken);
            if (context.IsJson(result))
            {
                Output.Json(context.Out, Paging.AsPage(items, next));
                return ExitCodes.Ok;
            }

            if (items.Count == 0)
            {
                await context.Out.WriteLineAsync(result.GetValue(status) is { } wanted ? $"No {wanted} approvals." : "No open approvals.");
                return ExitCodes.Ok;
            }

            var now = DateTimeOffset.UtcNow;
            Output.Table(context.Out, PendingColumns, items.Select(a => (IReadOnlyList<string>)
            [
                Output.Cell(a, "id"), Output.Cell(a, "status"), Output.Cell(a, "agentId"), ToolOf(a), Output.Cell(a, "rule"),
                Votes(a), Output.List(a, "approvers"), Output.Time(a, "deadlineAt", now, relative: true),
                Output.IsTrue(a, "youMayDecide") ? "may decide" : "-",
            ]));
            Paging.MoreHint(context.Error, next, items.Count);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Show(CliContext context)
    {
        var id = IdArgument();
        var command = new Command("show", "Show one approval: the call, its arguments, votes and outcome") { id };
        command.SetRun(context, async (result, cancellationToken) =>
        {
            using var client = context.Connect();
            var approval = await client.GetAsync($"api/approvals/{result.GetValue(id)}", cancellationToken);
            if (context.IsJson(result))
            {
                Output.Json(context.Out, approval);
            }
            else
            {
                ApprovalText.Write(context.Out, approval, DateTimeOffset.UtcNow);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command History(CliContext context)
    {
        var id = IdArgument();
        var command = new Command("history", "Show an approval's hash-chained history and whether the chain verifies") { id };
        command.SetRun(context, async (result, cancellationToken) =>
        {
            using var client = context.Connect();
            var history = await client.GetAsync($"api/approvals/{result.GetValue(id)}/history", cancellationToken);
            if (context.IsJson(result))
            {
                Output.Json(context.Out, history);
            }
            else
            {
                ApprovalText.WriteHistory(context.Out, history, DateTimeOffset.UtcNow);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Decide(CliContext context, string decision, string description)
    {
        var id = IdArgument();
        var command = new Command(decision, description) { id };
        var comment = new Option<string?>("--comment") { Description = "A note kept with your vote" };
        var edit = new Option<string?>("--edit-arguments")
        {
            Description = "Approve these arguments instead (JSON object, @file or @- for stdin), where the rule allows edits",
            HelpName = "json|@file",
        };
        var reason = new Option<string?>("--reason") { Description = decision == "deny" ? "Why; the agent is told" : "Why; recorded and told to the agent", Required = decision == "deny" };
        var key = new Option<string?>("--idempotency-key")
        {
            Description = "Repeat a request safely: the same key gets the first answer back (default: one per person and decision)",
        };
        if (decision == "approve")
        {
            command.Options.Add(comment);
            command.Options.Add(edit);
        }
        else
        {
            command.Options.Add(reason);
        }

        command.Options.Add(key);
        command.SetRun(context, async (result, cancellationToken) =>
        {
            var body = new JsonObject();
            if (result.GetValue(comment) is { } note)
            {
                body["comment"] = note;
            }

            if (result.GetValue(edit) is { } edited)
            {
                body["editedArguments"] = Inputs.JsonObject(edited, "--edit-arguments", context.Host.In);
            }

            if (result.GetValue(reason) is { } why)
            {
                body["reason"] = why;
            }

            var approvalId = result.GetValue(id);
            using var client = context.Connect();
            var outcome = await client.PostAsync($"api/approvals/{approvalId}/{decision}", body.Count > 0 ? body : null, cancellationToken, result.GetValue(key));
            if (context.IsJson(result))
            {
                Output.Json(context.Out, outcome);
            }
            else
            {
                var replayed = Output.IsTrue(outcome, "replayed") ? " (the answer to an earlier identical request)" : "";
                await context.Out.WriteLineAsync($"{approvalId}: {Output.Text(outcome, "message") ?? "accepted"}{replayed}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    internal static string ToolOf(JsonNode? approval) =>
        Output.Text(approval, "upstream") is { } upstream ? $"{upstream}/{Output.Cell(approval, "tool")}" : Output.Cell(approval, "tool");

    internal static string Votes(JsonNode? approval) =>
        $"{(Output.Get(approval, "votes") as JsonArray)?.Count ?? 0}/{Output.Text(approval, "quorum") ?? "?"}";
}
