using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Activities;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.AuditApi;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.AspNetCore.Mvc;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>
/// Gated calls and the approvals HTTP API: list, read, history and live stream of the approvals a person may see, and
/// <c>POST .../approve</c>, <c>.../deny</c> (approvers) and <c>.../withdraw</c> (admins). Decisions are signals:
/// idempotent by the <c>Idempotency-Key</c> header (by default one key per person and decision, so a double click is
/// answered with the first outcome). A person with only the approver role sees the approvals they are an approver of
/// (any stage) or decided; anything else is refused and the refusal recorded.
/// </summary>
public static class ApprovalsApi
{
    public const int DefaultLimit = 50;

    public static IServiceCollection AddApprovals(this IServiceCollection services)
    {
        services.AddSingleton<GatedCalls>();
        services.AddSingleton<ApprovalWaiters>();
        services.AddHostedService(provider => provider.GetRequiredService<ApprovalWaiters>());
        services.AddSingleton<ApprovalTasks>();
        services.AddSingleton<IToolInvoker, GatewayToolInvoker>();
        services.AddApprovalActivities();
        services.AddOptions<ApprovalStreamOptions>();
        services.AddSingleton<ApprovalStream>();
        return services;
    }

    public static IEndpointRouteBuilder MapApprovalsApi(this IEndpointRouteBuilder endpoints)
    {
        var approvals = endpoints.MapGroup("/api/approvals").WithTags("Approvals");
        approvals.MapGet("/", ListAsync).RequireRole(Role.Approver, Role.Auditor, Role.Admin)
            .WithSummary("The approvals the caller may see, newest first")
            .Produces<ApprovalPage>().Refusals().BadRequest();
        approvals.MapGet("/stream", (HttpContext context, ApprovalStream stream) => stream.RunAsync(context, context.GetHuman()))
            .RequireRole(Role.Approver, Role.Auditor, Role.Admin)
            .WithSummary("Server-sent events: a snapshot of the open approvals the caller may see, then every change")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream").Refusals();
        approvals.MapGet("/{id:guid}", GetAsync).RequireRole(Role.Approver, Role.Auditor, Role.Admin)
            .WithSummary("One approval").Produces<ApprovalView>().Refusals().ProducesProblem(StatusCodes.Status404NotFound);
        approvals.MapGet("/{id:guid}/history", HistoryAsync).RequireRole(Role.Approver, Role.Auditor, Role.Admin)
            .WithSummary("An approval's hash-chained history, with the chain recomputed")
            .Produces<ApprovalHistory>().Refusals().ProducesProblem(StatusCodes.Status404NotFound);
        approvals.MapPost("/{id:guid}/approve", (Guid id, HttpContext context, WorkflowRuntime runtime, HumanRefusals refusals, CancellationToken ct) =>
            SignalAsync(id, SignalNames.Approve, context, runtime, refusals, ct)).RequireRole(Role.Approver)
            .WithSummary("Approve (a vote towards the quorum); optionally with a comment and edited arguments").Decision<ApproveBody>();
        approvals.MapPost("/{id:guid}/deny", (Guid id, HttpContext context, WorkflowRuntime runtime, HumanRefusals refusals, CancellationToken ct) =>
            SignalAsync(id, SignalNames.Deny, context, runtime, refusals, ct)).RequireRole(Role.Approver)
            .WithSummary("Deny, optionally with a reason the agent is told").Decision<ReasonBody>();
        approvals.MapPost("/{id:guid}/withdraw", (Guid id, HttpContext context, WorkflowRuntime runtime, HumanRefusals refusals, CancellationToken ct) =>
            SignalAsync(id, SignalNames.Cancel, context, runtime, refusals, ct)).RequireRole(Role.Admin)
            .WithSummary("Withdraw an open approval (admins)").Decision<ReasonBody>();
        return endpoints;
    }

    /// <summary>The refusals every people's endpoint may answer with: no or bad token (401), missing role or not permitted (403).</summary>
    public static RouteHandlerBuilder Refusals(this RouteHandlerBuilder builder) => builder
        .ProducesProblem(StatusCodes.Status401Unauthorized)
        .ProducesProblem(StatusCodes.Status403Forbidden);

    /// <summary>A bad query parameter or body: a problem naming it.</summary>
    public static RouteHandlerBuilder BadRequest(this RouteHandlerBuilder builder) => builder.ProducesProblem(StatusCodes.Status400BadRequest);

    // The body is read by the handler (so a bad one gets a problem that says why); this only describes it.
    private static RouteHandlerBuilder Decision<TBody>(this RouteHandlerBuilder builder)
        where TBody : notnull => builder
        .Accepts<TBody>(isOptional: true, "application/json")
        .Produces<SignalOutcome>()
        .Refusals()
        .BadRequest()
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status409Conflict);

    private static async Task<IResult> ListAsync(
        [AsParameters] ApprovalListParameters parameters, HttpContext context, WorkflowRuntime runtime, LiveConfiguration config, CancellationToken cancellationToken)
    {
        var human = context.GetHuman();
        var query = new QueryReader();
        var statuses = query.Statuses("status", parameters.Status, QueryReader.Open);
        var mine = query.Flag("mine", parameters.Mine);
        var limit = query.Limit(parameters.Limit, DefaultLimit, WorkflowQuery.MaxLimit);
        if (query.Problem is { } problem)
        {
            return problem;
        }

        // A person who is only an approver sees their own approvals whatever they ask: `mine` is implied.
        var person = mine || !ApprovalAccess.SeesAll(human) ? human.Email : null;
        var request = new WorkflowQuery { Statuses = statuses, Person = person, NewestFirst = true, Limit = limit, Cursor = parameters.Cursor };
        if (await QueryAsync(runtime, request, cancellationToken) is not { } page)
        {
            return QueryReader.ProblemWith("cursor", $"'{parameters.Cursor}' is not a cursor this endpoint returned.");
        }

        var snapshot = config.Current.Config;
        return TypedResults.Ok(new ApprovalPage([.. page.Items.Select(w => ApprovalView.From(w.State, human, snapshot))], page.NextCursor));
    }

    /// <summary>Runs a workflow query; null when its cursor is not one the runtime made.</summary>
    internal static async Task<WorkflowPage?> QueryAsync(WorkflowRuntime runtime, WorkflowQuery query, CancellationToken cancellationToken)
    {
        try
        {
            return await runtime.QueryAsync(query, cancellationToken);
        }
        catch (ArgumentException e) when (e.ParamName == "cursor")
        {
            return null;
        }
    }

    private static async Task<IResult> GetAsync(
        Guid id, HttpContext context, WorkflowRuntime runtime, LiveConfiguration config, HumanRefusals refusals, CancellationToken cancellationToken)
    {
        var human = context.GetHuman();
        var workflow = await runtime.GetAsync(id, cancellationToken);
        if (workflow is null)
        {
            return NotFound(id);
        }

        return ApprovalAccess.MaySee(human, workflow.State)
            ? TypedResults.Ok(ApprovalView.From(workflow.State, human, config.Current.Config))
            : await refusals.RefuseAsync(context, RefusalReason.NotPermitted, human, [], ApprovalAccess.NotAnApprover(human, id));
    }

    private static async Task<IResult> HistoryAsync(
        Guid id, HttpContext context, WorkflowRuntime runtime, HumanRefusals refusals, CancellationToken cancellationToken)
    {
        var human = context.GetHuman();
        var workflow = await runtime.GetAsync(id, cancellationToken);
        if (workflow is null || await runtime.GetVerifiedHistoryAsync(id, cancellationToken) is not { } history)
        {
            return NotFound(id);
        }

        if (!ApprovalAccess.MaySee(human, workflow.State))
        {
            return await refusals.RefuseAsync(context, RefusalReason.NotPermitted, human, [], ApprovalAccess.NotAnApprover(human, id));
        }

        return TypedResults.Ok(ApprovalHistory.From(id, history));
    }

    private static async Task<IResult> SignalAsync(
        Guid id, string name, HttpContext context, WorkflowRuntime runtime, HumanRefusals refusals, CancellationToken cancellationToken)
    {
        var human = context.GetHuman();
        JsonElement? payload = null;
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            try
            {
                payload = await JsonSerializer.DeserializeAsync<JsonElement>(context.Request.Body, cancellationToken: cancellationToken);
            }
            catch (JsonException e)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request", detail: $"The body is not JSON: {e.Message}");
            }
        }

        // The digest of edited arguments is the gateway's to compute, never the client's to claim.
        if (name == SignalNames.Approve && payload is { ValueKind: JsonValueKind.Object } body && body.TryGetProperty("editedArguments", out var edited)
            && edited.ValueKind == JsonValueKind.Object)
        {
            var digest = ArgumentDigest.Compute(edited);
            if (body.TryGetProperty("editedArgumentsDigest", out var claimed) && claimed.ValueKind == JsonValueKind.String && claimed.GetString() != digest)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                    detail: $"editedArgumentsDigest does not match the edited arguments (their digest is {digest}); leave it out and the gateway computes it.");
            }

            var node = JsonNode.Parse(body.GetRawText())!.AsObject();
            node["editedArgumentsDigest"] = digest;
            payload = JsonSerializer.SerializeToElement(node);
        }

        // An approver's decision on an approval that is not theirs to decide is refused here, before it becomes a
        // signal: a stored refusal would otherwise answer their default idempotency key even once it is theirs
        // (escalation), and someone who is no approver of it learns nothing about it (not even who decided).
        if (name != SignalNames.Cancel && await runtime.GetAsync(id, cancellationToken) is { State: var state })
        {
            if (!ApprovalAccess.IsApprover(state, human.Email) && !ApprovalAccess.IsDecider(state, human.Email))
            {
                return await refusals.RefuseAsync(context, RefusalReason.NotPermitted, human, [], ApprovalAccess.NotAnApprover(human, id));
            }

            if (state.IsOpen && !state.CurrentStage.Approvers.Contains(human.Email, StringComparer.OrdinalIgnoreCase))
            {
                return await refusals.RefuseAsync(context, RefusalReason.NotPermitted, human, [],
                    $"{human.Email} is not an approver of approval {id} at its current stage ({state.CurrentStage.Group}).");
            }
        }

        var key = context.Request.Headers["Idempotency-Key"].ToString() is { Length: > 0 } given ? given : $"{human.Email.ToLowerInvariant()}:{name}";
        var outcome = await runtime.SignalAsync(id, new SignalRequest(name, key, human.Email, payload), cancellationToken);
        if (outcome.Accepted)
        {
            return Results.Json(outcome);
        }

        if (outcome.Error is SignalError.NotAuthorized or SignalError.SelfApproval)
        {
            return await refusals.RefuseAsync(context, RefusalReason.NotPermitted, human, [], $"{human.Email} may not {name} approval {id}: {outcome.Message}");
        }

        var status = outcome.Error switch
        {
            SignalError.UnknownWorkflow => StatusCodes.Status404NotFound,
            SignalError.MalformedPayload or SignalError.InvalidRequest or SignalError.UnknownSignal => StatusCodes.Status400BadRequest,
            _ => StatusCodes.Status409Conflict,
        };
        return Results.Problem(statusCode: status, title: outcome.Error?.ToString() ?? "Refused", detail: outcome.Message);
    }

    internal static IResult NotFound(Guid id) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"There is no approval {id}.");
}

/// <summary>The query of <c>GET /api/approvals</c>.</summary>
public sealed record ApprovalListParameters
{
    [FromQuery(Name = "status")]
    [Description("open (pending or escalated, the default), all, or one status: pending, escalated, approved, denied, expired, cancelled, executing, completed, failed, in_doubt.")]
    public string? Status { get; init; }

    [FromQuery(Name = "mine")]
    [Description("true: only approvals the caller is an approver of or decided (always so for a person who is only an approver).")]
    public string? Mine { get; init; }

    [FromQuery(Name = "cursor")]
    [Description("The nextCursor of the previous page.")]
    public string? Cursor { get; init; }

    [FromQuery(Name = "limit")]
    [Description("Approvals per page, 1 to 1000 (default 50).")]
    public string? Limit { get; init; }
}

/// <summary>The optional body of <c>approve</c>.</summary>
public sealed record ApproveBody(string? Comment, JsonElement? EditedArguments);

/// <summary>The optional body of <c>deny</c> and <c>withdraw</c>.</summary>
public sealed record ReasonBody(string? Reason);
