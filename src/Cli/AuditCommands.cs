using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Cli;

/// <summary><c>audit query</c>, <c>export</c> and <c>verify</c> (auditors and admins).</summary>
internal static class AuditCommands
{
    public static IEnumerable<Command> Build(CliContext context)
    {
        var audit = new Command("audit", "Query the audit trail: tool calls, or approval workflows with --workflows");
        audit.Subcommands.Add(Query(context));
        yield return audit;
        yield return AuditExport.Build(context);
        yield return Verify(context);
    }

    private static Command Query(CliContext context)
    {
        var workflows = new Option<bool>("--workflows") { Description = "Query approval workflows instead of tool calls" };
        Option<string?> Filter(string name, string description) => new(name) { Description = description };
        var agent = Filter("--agent", "Agent id");
        var bundle = Filter("--bundle", "Bundle");
        var tool = Filter("--tool", "Upstream tool name (as the upstream names it, e.g. write_file)");
        var toolName = Filter("--tool-name", "Tool calls: the name the agent called (e.g. fs__write_file)");
        var upstream = Filter("--upstream", "Tool calls: upstream");
        var decision = Filter("--decision", "Tool calls: allow, deny, approve, rate_limit, grant or error");
        var rule = Filter("--rule", "Tool calls: the policy rule that decided (default for the policy's default)");
        var outcome = Filter("--outcome", "Tool calls: ok, tool_error, upstream_error, timeout, denied, rate_limited, pending, cancelled...");
        var approval = Filter("--approval", "Tool calls: the approval id");
        var approver = Filter("--approver", "Workflows: an approver's email");
        var status = Filter("--status", "Workflows: all (default), open, or one status: pending, approved, denied, expired, completed...");
        var from = Filter("--from", "First instant included (ISO 8601, UTC unless it says otherwise)");
        var to = Filter("--to", "Instant where the range ends, excluded");
        var limit = Paging.LimitOption("Records per page (the gateway's default: 100)");
        var all = Paging.AllOption();
        var command = new Command("query", "List audit records, newest first")
        {
            workflows, agent, bundle, tool, toolName, upstream, decision, rule, outcome, approval, approver, status, from, to, limit, all,
        };
        command.SetRun(context, async (result, cancellationToken) =>
        {
            var forWorkflows = result.GetValue(workflows);
            var misplaced = (forWorkflows ? new[] { toolName, upstream, decision, rule, outcome, approval } : [approver, status])
                .FirstOrDefault(o => result.GetValue(o) is not null);
            if (misplaced is not null)
            {
                throw new CliFailure(ExitCodes.Usage, forWorkflows
                    ? $"{misplaced.Name} filters tool calls; leave out --workflows or the option."
                    : $"{misplaced.Name} filters workflows; add --workflows.");
            }

            (string, string?)[] filters = forWorkflows
                ? [("agent", result.GetValue(agent)), ("bundle", result.GetValue(bundle)), ("tool", result.GetValue(tool)), ("approver", result.GetValue(approver)), ("status", result.GetValue(status))]
                : [("agent", result.GetValue(agent)), ("bundle", result.GetValue(bundle)), ("upstream", result.GetValue(upstream)), ("tool", result.GetValue(tool)),
                    ("toolName", result.GetValue(toolName)), ("decision", result.GetValue(decision)), ("rule", result.GetValue(rule)),
                    ("outcome", result.GetValue(outcome)), ("approvalId", result.GetValue(approval))];
            (string, string?)[] range =
            [
                ("from", Inputs.Instant(result.GetValue(from), "--from")), ("to", Inputs.Instant(result.GetValue(to), "--to")),
                ("limit", result.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)),
            ];
            var path = forWorkflows ? "api/audit/workflows" : "api/audit/tool-calls";

            using var client = context.Connect();
            var (items, next) = await Paging.ReadAsync(client, cursor => Inputs.Query(path, [.. filters, .. range, ("cursor", cursor)]), result.GetValue(all), cancellationToken);
            if (context.IsJson(result))
            {
                Output.Json(context.Out, Paging.AsPage(items, next));
                return ExitCodes.Ok;
            }

            if (items.Count == 0)
            {
                await context.Out.WriteLineAsync(forWorkflows ? "No workflows match." : "No tool calls match.");
                return ExitCodes.Ok;
            }

            var now = DateTimeOffset.UtcNow;
            if (forWorkflows)
            {
                Output.Table(context.Out, ["ID", "STATUS", "AGENT", "TOOL", "RULE", "CREATED", "DECIDED BY", "REASON"], items.Select(w => (IReadOnlyList<string>)
                [
                    Output.Cell(w, "id"), Output.Cell(w, "status"), Output.Cell(w, "agentId"), ApprovalCommands.ToolOf(w), Output.Cell(w, "rule"),
                    Output.Time(w, "createdAt", now), Output.List(w, "decidedBy"), Output.Cell(w, "reason"),
                ]));
            }
            else
            {
                Output.Table(context.Out, ["AT", "AGENT", "TOOL", "DECISION", "RULE", "OUTCOME", "MS", "APPROVAL"], items.Select(c => (IReadOnlyList<string>)
                [
                    Output.Time(c, "at", now), Output.Cell(c, "agentId"), Output.Cell(c, "toolName"), Output.Cell(c, "decision"), Output.Cell(c, "rule"),
                    Output.Cell(c, "outcome"), Milliseconds(c), Output.Cell(c, "approvalId"),
                ]));
            }

            Paging.MoreHint(context.Error, next, items.Count);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Verify(CliContext context)
    {
        var from = new Option<string?>("--from") { Description = "Workflows created / tool calls started from this instant (ISO 8601)" };
        var to = new Option<string?>("--to") { Description = "... until this instant, excluded" };
        var command = new Command("verify", "Recompute the audit hash chains on the gateway; exit code 1 when any is broken") { from, to };
        command.SetRun(context, async (result, cancellationToken) =>
        {
            var path = Inputs.Query("api/audit/verify", ("from", Inputs.Instant(result.GetValue(from), "--from")), ("to", Inputs.Instant(result.GetValue(to), "--to")));
            using var client = context.Connect();
            var report = await client.PostAsync(path, null, cancellationToken);
            var valid = Output.IsTrue(report, "valid");
            if (context.IsJson(result))
            {
                Output.Json(context.Out, report);
                return valid ? ExitCodes.Ok : ExitCodes.CheckFailed;
            }

            var workflows = Output.Get(report, "workflows");
            var toolCalls = Output.Get(report, "toolCalls");
            var broken = Broken("workflow", workflows).Concat(Broken("tool-call stream", toolCalls)).ToList();
            if (broken.Count > 0)
            {
                Output.Table(context.Out, ["KIND", "ID", "BROKEN AT", "PROBLEM"], broken);
            }

            var counts = $"{Output.Cell(workflows, "checked")} workflows and {Output.Cell(toolCalls, "checked")} tool-call records checked";
            await context.Out.WriteLineAsync(valid ? $"All audit chains verify: {counts}." : $"BROKEN: {broken.Count} chain(s) do not verify; {counts}.");
            return valid ? ExitCodes.Ok : ExitCodes.CheckFailed;
        });
        return command;
    }

    private static string Milliseconds(JsonNode? call) =>
        double.TryParse(Output.Text(call, "durationMs"), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms)
            ? Math.Round(ms).ToString(CultureInfo.InvariantCulture)
            : "-";

    /// <summary>
    /// Rows for broken chains: a workflow names its first bad event; a tool-call stream lists its problems, of which
    /// the first is shown with the count.
    /// </summary>
    private static IEnumerable<IReadOnlyList<string>> Broken(string kind, JsonNode? section) =>
        Output.Get(section, "broken") is JsonArray broken
            ? broken.Select(b =>
            {
                var problems = Output.Get(b, "problems") as JsonArray;
                var first = problems?.FirstOrDefault();
                var more = Output.Text(b, "problemCount") is { } count and not "1" ? $" ({count} problems)" : "";
                return (IReadOnlyList<string>)
                [
                    kind,
                    Output.Text(b, "approvalId") ?? Output.Cell(b, "streamId"),
                    Output.Text(b, "brokenAt") ?? Output.Cell(first, "seq"),
                    (Output.Text(b, "problem") ?? Output.Text(first, "detail") ?? "-") + more,
                ];
            })
            : [];
}
