using System.Text.Json.Nodes;

namespace ApprovalEngine.Cli;

/// <summary>One approval, and its history, as text for a person.</summary>
internal static class ApprovalText
{
    public static void Write(TextWriter writer, JsonNode approval, DateTimeOffset now)
    {
        var owner = Output.Text(approval, "agentOwner");
        Output.Fields(writer,
        [
            ("Approval", Output.Cell(approval, "id")),
            ("Status", Output.Cell(approval, "status")),
            ("Agent", owner is null ? Output.Cell(approval, "agentId") : $"{Output.Cell(approval, "agentId")} (owner {owner})"),
            ("Tool", $"{ApprovalCommands.ToolOf(approval)} in bundle {Output.Cell(approval, "bundle")}"),
            ("Rule", Output.Text(approval, "rule") is { } rule ? $"{rule}{(Output.Text(approval, "policyReason") is { } why ? $": {why}" : "")}" : null),
            ("Approvers", $"{Output.Cell(approval, "approverGroup")}: {Output.List(approval, "approvers")}"),
            ("Votes", $"{ApprovalCommands.Votes(approval)} (stage {Output.Text(approval, "stage") ?? "0"})"),
            ("Created", Output.Time(approval, "createdAt", now, relative: true)),
            ("Deadline", Output.Time(approval, "deadlineAt", now, relative: true)),
            ("Decided by", Output.Get(approval, "decidedBy") is JsonArray { Count: > 0 } ? $"{Output.List(approval, "decidedBy")} at {Output.Time(approval, "decidedAt", now)}" : null),
            ("Reason", Output.Text(approval, "reason")),
            ("Error", Output.Text(approval, "error")),
            ("You", Output.Get(approval, "youMayDecide") is null ? null : Output.IsTrue(approval, "youMayDecide") ? "may decide" : "may not decide"),
            ("Console", Output.Text(approval, "console")),
            ("Digest", Output.Text(approval, "argumentsDigest")),
        ]);

        Block(writer, "Arguments", Output.Get(approval, "arguments"));
        if (Output.Get(approval, "editedArguments") is JsonObject edited)
        {
            Block(writer, $"Edited arguments ({Output.Cell(approval, "editedArgumentsDigest")})", edited);
        }

        if (Output.Get(approval, "votes") is JsonArray { Count: > 0 } votes)
        {
            writer.WriteLine();
            writer.WriteLine("Votes:");
            foreach (var vote in votes)
            {
                var comment = Output.Text(vote, "comment") is { } text ? $": {text}" : "";
                writer.WriteLine($"  {Output.Cell(vote, "approver")} at {Output.Time(vote, "at", now)}{comment}");
            }
        }

        if (Output.Get(approval, "result") is { } result)
        {
            Block(writer, "Result", result);
        }
    }

    public static void WriteHistory(TextWriter writer, JsonNode history, DateTimeOffset now)
    {
        var chain = Output.Get(history, "chain");
        var valid = Output.IsTrue(chain, "valid");
        writer.WriteLine(valid
            ? $"Chain verifies ({Output.Cell(chain, "checkedEvents")} events)."
            : $"CHAIN BROKEN at seq {Output.Cell(chain, "brokenAt")}: {Output.Cell(chain, "problem")}");
        if (Output.Get(history, "events") is JsonArray events)
        {
            Output.Table(writer, ["SEQ", "AT", "TYPE", "ACTOR", "HASH"], events.Select(e => (IReadOnlyList<string>)
            [
                Output.Cell(e, "seq"), Output.Time(e, "at", now), Output.Cell(e, "type"), Output.Cell(e, "actor"),
                Output.Text(e, "hash") is { Length: > 12 } hash ? hash[..12] : Output.Cell(e, "hash"),
            ]));
        }
    }

    private static void Block(TextWriter writer, string title, JsonNode? node)
    {
        writer.WriteLine();
        writer.WriteLine($"{title}:");
        var text = new StringWriter();
        Output.Json(text, node);
        foreach (var line in text.ToString().TrimEnd().Split('\n'))
        {
            writer.WriteLine($"  {line}");
        }
    }
}
