using System.ComponentModel;
using System.Text.Json;
using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ApprovalEngine.Gateway.AuditApi;

/// <summary>
/// The audit for auditors and admins: tool calls and approval workflows (filtered, newest first, keyset cursors), the
/// NDJSON export of every event in a time range, and the chain verification of the <c>verify</c> command.
/// </summary>
public static class AuditApi
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder endpoints)
    {
        var audit = endpoints.MapGroup("/api/audit").WithTags("Audit").RequireRole(Role.Auditor, Role.Admin);
        audit.MapGet("/tool-calls", ToolCallsAsync)
            .WithSummary("Tool calls, newest first").Produces<ToolCallPage>().Refusals().BadRequest();
        audit.MapGet("/workflows", WorkflowsAsync)
            .WithSummary("Approval workflows, newest first").Produces<ApprovalPage>().Refusals().BadRequest();
        audit.MapGet("/export", (HttpContext context, [AsParameters] ExportParameters parameters, NpgsqlDataSource dataSource, ILogger<AuditExport> logger) =>
                new AuditExport(dataSource, logger).RunAsync(context, parameters))
            .WithSummary("Every audit event in [from, to), in time order, one JSON object per line")
            .Produces(StatusCodes.Status200OK, contentType: AuditExport.ContentType).Refusals().BadRequest();
        audit.MapPost("/verify", AuditVerification.VerifyAsync)
            .WithSummary("Recompute the hash chains of the approvals created and the tool calls started in [from, to)")
            .Produces<VerificationReport>().Refusals().BadRequest();
        return endpoints;
    }

    private static async Task<IResult> ToolCallsAsync([AsParameters] ToolCallParameters parameters, ToolCallAuditQueries queries, CancellationToken cancellationToken)
    {
        var query = new QueryReader();
        var (from, to) = query.Range(parameters.From, parameters.To);
        var filter = new ToolCallAuditFilter
        {
            AgentId = query.Text("agent", parameters.Agent),
            Bundle = query.Text("bundle", parameters.Bundle),
            Upstream = query.Text("upstream", parameters.Upstream),
            Tool = query.Text("tool", parameters.Tool),
            ToolName = query.Text("toolName", parameters.ToolName),
            Decision = query.Text("decision", parameters.Decision),
            Rule = query.Text("rule", parameters.Rule),
            ShadowDecision = query.Text("shadowDecision", parameters.ShadowDecision),
            Outcome = query.Text("outcome", parameters.Outcome),
            ApprovalId = query.Id("approvalId", parameters.ApprovalId),
            From = from,
            To = to,
            Cursor = parameters.Cursor,
            Limit = query.Limit(parameters.Limit, ToolCallAuditFilter.DefaultLimit, ToolCallAuditFilter.MaxLimit),
        };
        if (query.Problem is { } problem)
        {
            return problem;
        }

        ToolCallAuditPage page;
        try
        {
            page = await queries.QueryAsync(filter, cancellationToken);
        }
        catch (ArgumentException e) when (e.ParamName == "cursor")
        {
            return QueryReader.ProblemWith("cursor", $"'{parameters.Cursor}' is not a cursor this endpoint returned.");
        }

        return TypedResults.Ok(new ToolCallPage([.. page.Items.Select(ToolCallView.From)], page.NextCursor));
    }

    private static async Task<IResult> WorkflowsAsync(
        [AsParameters] WorkflowParameters parameters, HttpContext context, WorkflowRuntime runtime, LiveConfiguration config, CancellationToken cancellationToken)
    {
        var human = context.GetHuman();
        var query = new QueryReader();
        var statuses = query.Statuses("status", parameters.Status, QueryReader.All);
        var (from, to) = query.Range(parameters.From, parameters.To);
        var request = new WorkflowQuery
        {
            Statuses = statuses,
            AgentId = query.Text("agent", parameters.Agent),
            Bundle = query.Text("bundle", parameters.Bundle),
            Tool = query.Text("tool", parameters.Tool),
            Person = query.Text("approver", parameters.Approver),
            CreatedFrom = from,
            CreatedBefore = to,
            NewestFirst = true,
            Limit = query.Limit(parameters.Limit, ApprovalsApi.DefaultLimit, WorkflowQuery.MaxLimit),
            Cursor = parameters.Cursor,
        };
        if (query.Problem is { } problem)
        {
            return problem;
        }

        if (await ApprovalsApi.QueryAsync(runtime, request, cancellationToken) is not { } page)
        {
            return QueryReader.ProblemWith("cursor", $"'{parameters.Cursor}' is not a cursor this endpoint returned.");
        }

        var snapshot = config.Current.Config;
        return TypedResults.Ok(new ApprovalPage([.. page.Items.Select(w => ApprovalView.From(w.State, human, snapshot))], page.NextCursor));
    }
}

/// <summary>One tool call as the audit recorded it.</summary>
/// <param name="At">When the call started.</param>
/// <param name="Tool">The tool's name on its upstream.</param>
/// <param name="ToolName">The name the agent called (namespaced).</param>
/// <param name="ExecutedArgumentsDigest">When an approver edited the arguments: the digest of those that ran.</param>
/// <param name="Arguments">The arguments as recorded (after redaction).</param>
public sealed record ToolCallView(
    Guid Id, DateTimeOffset At, DateTimeOffset CompletedAt, string AgentId, string Bundle, string Upstream, string Tool, string ToolName,
    string Decision, string? Rule, string? ShadowDecision, string? ShadowRule, Guid? ApprovalId, string Outcome, string? Error,
    double DurationMs, string ArgumentsDigest, string? ExecutedArgumentsDigest, JsonElement Arguments)
{
    public static ToolCallView From(ToolCallAuditEntry entry)
    {
        var r = entry.Record;
        return new ToolCallView(
            entry.Id, r.StartedAt, r.StartedAt + r.Duration, r.AgentId, r.Bundle, r.Upstream, r.Tool, r.ToolName, r.Decision, r.Rule,
            r.ShadowDecision, r.ShadowRule, r.ApprovalId, r.Outcome, r.Error, r.Duration.TotalMilliseconds, r.ArgumentsDigest,
            r.ExecutedArgumentsDigest, ParseArguments(r.RedactedArguments));
    }

    // The column is json, so the text parses; should it not, the view still answers with the text as it is.
    private static JsonElement ParseArguments(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(text);
        }
    }
}

public sealed record ToolCallPage(IReadOnlyList<ToolCallView> Items, string? NextCursor);

/// <summary>The query of <c>GET /api/audit/tool-calls</c>; every filter given must match.</summary>
public sealed record ToolCallParameters
{
    [FromQuery(Name = "agent"), Description("Agent id.")]
    public string? Agent { get; init; }

    [FromQuery(Name = "bundle"), Description("Bundle name.")]
    public string? Bundle { get; init; }

    [FromQuery(Name = "upstream"), Description("Upstream name.")]
    public string? Upstream { get; init; }

    [FromQuery(Name = "tool"), Description("The tool's name on its upstream.")]
    public string? Tool { get; init; }

    [FromQuery(Name = "toolName"), Description("The name the agent called (namespaced, e.g. fs__write_file).")]
    public string? ToolName { get; init; }

    [FromQuery(Name = "decision"), Description("allow, deny, approve, rate_limit, grant or error.")]
    public string? Decision { get; init; }

    [FromQuery(Name = "rule"), Description("The policy rule that decided (default for the policy's default).")]
    public string? Rule { get; init; }

    [FromQuery(Name = "shadowDecision"), Description("What a detect-mode rule would have decided; * for any.")]
    public string? ShadowDecision { get; init; }

    [FromQuery(Name = "outcome"), Description("ok, tool_error, upstream_error, timeout, denied, rate_limited, result_blocked, pending, cancelled...")]
    public string? Outcome { get; init; }

    [FromQuery(Name = "approvalId"), Description("The approval the call started, joined or was granted by.")]
    public string? ApprovalId { get; init; }

    [FromQuery(Name = "from"), Description("First call start included (ISO 8601; UTC unless it has an offset).")]
    public string? From { get; init; }

    [FromQuery(Name = "to"), Description("Call start where the range ends, excluded.")]
    public string? To { get; init; }

    [FromQuery(Name = "cursor"), Description("The nextCursor of the previous page.")]
    public string? Cursor { get; init; }

    [FromQuery(Name = "limit"), Description("Records per page, 1 to 1000 (default 100).")]
    public string? Limit { get; init; }
}

/// <summary>The query of <c>GET /api/audit/workflows</c>; every filter given must match.</summary>
public sealed record WorkflowParameters
{
    [FromQuery(Name = "status"), Description("all (the default), open (pending or escalated), or one status.")]
    public string? Status { get; init; }

    [FromQuery(Name = "agent"), Description("Agent id.")]
    public string? Agent { get; init; }

    [FromQuery(Name = "bundle"), Description("Bundle name.")]
    public string? Bundle { get; init; }

    [FromQuery(Name = "tool"), Description("The tool's name on its upstream.")]
    public string? Tool { get; init; }

    [FromQuery(Name = "approver"), Description("An approver of any stage, or someone who voted or decided (email, any case).")]
    public string? Approver { get; init; }

    [FromQuery(Name = "from"), Description("First creation time included (ISO 8601; UTC unless it has an offset).")]
    public string? From { get; init; }

    [FromQuery(Name = "to"), Description("Creation time where the range ends, excluded.")]
    public string? To { get; init; }

    [FromQuery(Name = "cursor"), Description("The nextCursor of the previous page.")]
    public string? Cursor { get; init; }

    [FromQuery(Name = "limit"), Description("Approvals per page, 1 to 1000 (default 50).")]
    public string? Limit { get; init; }
}
