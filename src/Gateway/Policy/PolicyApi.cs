using System.Text.Json;
using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Humans;

namespace ApprovalEngine.Gateway.Policy;

/// <summary><c>POST /api/policy/explain</c>: how the policy would decide a call. For admins and auditors.</summary>
public static class PolicyApi
{
    public static IServiceCollection AddPolicy(this IServiceCollection services)
    {
        services.AddSingleton<RateLimiter>();
        services.AddSingleton<PolicyExplainer>();
        return services;
    }

    public static IEndpointRouteBuilder MapPolicyApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/api/policy/explain", Explain).RequireRole(Role.Admin, Role.Auditor)
            .WithTags("Policy").WithSummary("How the policy in effect would decide a call, with the trace of every rule it looked at")
            .Produces<ExplainResponse>().Refusals().BadRequest().ProducesProblem(StatusCodes.Status404NotFound);
        return endpoints;
    }

    private static IResult Explain(ExplainRequest? request, PolicyExplainer explainer)
    {
        if (request?.Agent is not { Length: > 0 } agent || request.Tool is not { Length: > 0 } tool)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                detail: """Send a JSON body with "agent" and "tool" (the name the agent sees), and optionally "arguments" (an object) and "bundle".""");
        }

        if (request.Arguments is { } arguments && arguments.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request", detail: "\"arguments\" must be a JSON object.");
        }

        var map = request.Arguments is { ValueKind: JsonValueKind.Object } body
            ? body.EnumerateObject().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal)
            : null;
        var outcome = explainer.Explain(agent, tool, map, request.Bundle);
        return outcome.Error is { } error
            ? Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: error)
            : Results.Json(ExplainResponse.From(outcome));
    }
}

public sealed record ExplainRequest(string? Agent, string? Tool, JsonElement? Arguments, string? Bundle);
