using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Activities;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>
/// Gated calls and the approvals HTTP API: <c>GET /api/approvals/{id}</c>, and <c>POST .../approve</c>, <c>.../deny</c>
/// (approvers) and <c>.../withdraw</c> (admins). Decisions are signals: idempotent by the <c>Idempotency-Key</c> header
/// (by default one key per person and decision, so a double click is answered with the first outcome).
/// </summary>
public static class ApprovalsApi
{
    public static IServiceCollection AddApprovals(this IServiceCollection services)
    {
        services.AddSingleton<GatedCalls>();
        services.AddSingleton<ApprovalWaiters>();
        services.AddHostedService(provider => provider.GetRequiredService<ApprovalWaiters>());
        services.AddSingleton<ApprovalTasks>();
        services.AddSingleton<IToolInvoker, GatewayToolInvoker>();
        services.AddApprovalActivities();
        return services;
    }

    public static IEndpointRouteBuilder MapApprovalsApi(this IEndpointRouteBuilder endpoints)
    {
        var approvals = endpoints.MapGroup("/api/approvals");
        approvals.MapGet("/{id:guid}", GetAsync).RequireRole(Role.Approver, Role.Auditor, Role.Admin);
        approvals.MapPost("/{id:guid}/approve", (Guid id, HttpContext context, WorkflowRuntime runtime, CancellationToken ct) =>
            SignalAsync(id, SignalNames.Approve, context, runtime, ct)).RequireRole(Role.Approver);
        approvals.MapPost("/{id:guid}/deny", (Guid id, HttpContext context, WorkflowRuntime runtime, CancellationToken ct) =>
            SignalAsync(id, SignalNames.Deny, context, runtime, ct)).RequireRole(Role.Approver);
        approvals.MapPost("/{id:guid}/withdraw", (Guid id, HttpContext context, WorkflowRuntime runtime, CancellationToken ct) =>
            SignalAsync(id, SignalNames.Cancel, context, runtime, ct)).RequireRole(Role.Admin);
        return endpoints;
    }

    private static async Task<IResult> GetAsync(Guid id, WorkflowRuntime runtime, CancellationToken cancellationToken) =>
        await runtime.GetAsync(id, cancellationToken) is { } workflow
            ? Results.Json(workflow.State)
            : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"There is no approval {id}.");

    private static async Task<IResult> SignalAsync(Guid id, string name, HttpContext context, WorkflowRuntime runtime, CancellationToken cancellationToken)
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

        var key = context.Request.Headers["Idempotency-Key"].ToString() is { Length: > 0 } given ? given : $"{human.Email.ToLowerInvariant()}:{name}";
        var outcome = await runtime.SignalAsync(id, new SignalRequest(name, key, human.Email, payload), cancellationToken);
        if (outcome.Accepted)
        {
            return Results.Json(outcome);
        }

        var status = outcome.Error switch
        {
            SignalError.UnknownWorkflow => StatusCodes.Status404NotFound,
            SignalError.NotAuthorized or SignalError.SelfApproval => StatusCodes.Status403Forbidden,
            SignalError.MalformedPayload or SignalError.InvalidRequest or SignalError.UnknownSignal => StatusCodes.Status400BadRequest,
            _ => StatusCodes.Status409Conflict,
        };
        return Results.Problem(statusCode: status, title: outcome.Error?.ToString() ?? "Refused", detail: outcome.Message);
    }
}
