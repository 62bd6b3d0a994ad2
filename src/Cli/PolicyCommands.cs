using System.CommandLine;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Cli;

/// <summary><c>policy explain</c>: how the gateway's policy would decide a call, rule by rule. Runs nothing.</summary>
internal static class PolicyCommands
{
    public static Command Build(CliContext context)
    {
        var policy = new Command("policy", "The gateway's tool-call policy");
        policy.Subcommands.Add(Explain(context));
        return policy;
    }

    private static Command Explain(CliContext context)
    {
        var agent = new Option<string>("--agent") { Description = "The agent's id", Required = true };
        var tool = new Option<string>("--tool") { Description = "The tool as the agent sees it, e.g. fs__write_file", Required = true };
        var arguments = new Option<string?>("--arguments") { Description = "The call's arguments: a JSON object, @file or @- for stdin", HelpName = "json|@file" };
        var bundle = new Option<string?>("--bundle") { Description = "The bundle the agent calls through (default: any of its bundles)" };
        var command = new Command("explain", "Explain how the policy would decide a call (auditors, admins). The exit code is 0 whatever the decision; read it from the output or --json.")
        {
            agent, tool, arguments, bundle,
        };
        command.SetRun(context, async (result, cancellationToken) =>
        {
            var body = new JsonObject { ["agent"] = result.GetRequiredValue(agent), ["tool"] = result.GetRequiredValue(tool) };
            if (result.GetValue(arguments) is { } given)
            {
                body["arguments"] = Inputs.JsonObject(given, "--arguments", context.Host.In);
            }

            if (result.GetValue(bundle) is { } name)
            {
                body["bundle"] = name;
            }

            using var client = context.Connect();
            var explanation = await client.PostAsync("api/policy/explain", body, cancellationToken);
            if (context.IsJson(result))
            {
                Output.Json(context.Out, explanation);
            }
            else
            {
                Write(context.Out, explanation);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static void Write(TextWriter writer, JsonNode explanation)
    {
        var tool = Output.Get(explanation, "tool");
        var approval = Output.Get(explanation, "approval");
        var shadow = Output.Get(explanation, "shadow");
        Output.Fields(writer,
        [
            ("Decision", Output.Cell(explanation, "decision")),
            ("Rule", Output.Cell(explanation, "rule")),
            ("Reason", Output.Text(explanation, "reason")),
            ("Tool", $"{Output.Cell(tool, "name")} (bundle {Output.Cell(tool, "bundle")}, upstream {Output.Cell(tool, "upstream")}"
                + (Output.IsTrue(tool, "inCatalog") ? ")" : "; not in its upstream's current catalog, so without its annotations)")),
            ("Approval", approval is null ? null : Approval(approval)),
            ("Shadow", shadow is null ? null : $"rule {Output.Cell(shadow, "rule")} (detect mode) would {Output.Cell(shadow, "decision")}"
                + (Output.Text(shadow, "reason") is { } why ? $": {why}" : "")),
            ("Retry after", Output.Text(explanation, "retryAfterSeconds") is { } seconds ? $"{seconds} s" : null),
        ]);

        writer.WriteLine();
        writer.WriteLine("Trace:");
        if (Output.Get(explanation, "trace") is JsonArray trace)
        {
            foreach (var step in trace)
            {
                var index = Output.Text(step, "index");
                var line = Output.Text(step, "line") is { } number and not "0" ? $" (line {number})" : "";
                var name = index == "0" ? "the default" : $"{index}. {Output.Cell(step, "rule")}";
                writer.WriteLine($"  {name}{line}: {Output.Cell(step, "effect")}");
                if (Output.Get(step, "checks") is JsonArray checks)
                {
                    foreach (var check in checks)
                    {
                        writer.WriteLine($"       {check}");
                    }
                }
            }
        }

        if (Output.Text(explanation, "order") is { } order)
        {
            writer.WriteLine();
            writer.WriteLine(order);
        }
    }

    private static string Approval(JsonNode approval)
    {
        var text = $"{Output.List(approval, "approvers")}, quorum {Output.Cell(approval, "quorum")}, timeout {Output.Cell(approval, "timeout")} then {Output.Cell(approval, "onTimeout")}";
        if (Output.Get(approval, "escalateTo") is JsonArray { Count: > 0 })
        {
            text += $" to {Output.List(approval, "escalateTo")} for {Output.Cell(approval, "escalationTimeout")}";
        }

        return text + $", hold {Output.Cell(approval, "hold")}{(Output.IsTrue(approval, "allowEdits") ? ", approvers may edit arguments" : "")}";
    }
}
