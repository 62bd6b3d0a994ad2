using ApprovalEngine.Gateway.Humans;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ApprovalEngine.Gateway.Status;

/// <summary>
/// The OpenAPI document of the people's API (<c>GET /openapi/v1.json</c>, anonymous): every <c>/api</c> endpoint with
/// its parameters, responses and the bearer scheme. The MCP, Slack, Teams and health endpoints are not part of it.
/// </summary>
public static class ApiDocument
{
    public const string SchemeName = "bearer";

    /// <summary>The tags (groups) of the endpoints the document describes; other endpoints under /api (Teams's) are not for people.</summary>
    public static IReadOnlySet<string> Tags { get; } = new HashSet<string>(StringComparer.Ordinal) { "Approvals", "Audit", "Policy", "Status" };

    // Query parameters are read as text so a bad value gets a problem naming it; the document says what they hold.
    private static readonly Dictionary<string, (JsonSchemaType Type, string? Format)> ParameterTypes = new(StringComparer.Ordinal)
    {
        ["limit"] = (JsonSchemaType.Integer, "int32"),
        ["from"] = (JsonSchemaType.String, "date-time"),
        ["to"] = (JsonSchemaType.String, "date-time"),
        ["mine"] = (JsonSchemaType.Boolean, null),
        ["approvalId"] = (JsonSchemaType.String, "uuid"),
    };

    public static void Configure(OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ShouldInclude = description =>
            description.ActionDescriptor.EndpointMetadata.OfType<ITagsMetadata>().Any(tags => tags.Tags.Any(Tags.Contains));
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Approval Engine: people's API",
                Version = "v1",
                Description = "Approvals, decisions, audit and status for people. Send 'Authorization: Bearer <token>': a user API token "
                    + $"({UserTokens.Prefix}..., made with 'ApprovalEngine.Gateway new-token') or, when configured, an OIDC token. "
                    + "Errors are application/problem+json; every refusal (401/403) is recorded.",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = $"A user API token ({UserTokens.Prefix}...) or an OIDC JWT.",
            };
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] });
            foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
            {
                if (parameter.In == ParameterLocation.Query && parameter.Name is { } name && ParameterTypes.TryGetValue(name, out var type))
                {
                    parameter.Schema = new OpenApiSchema { Type = type.Type, Format = type.Format };
                }
            }

            if (context.Description.HttpMethod == "POST" && context.Description.RelativePath?.StartsWith("api/approvals/", StringComparison.Ordinal) == true)
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "Idempotency-Key",
                    In = ParameterLocation.Header,
                    Description = "Makes a retry safe: the same key gets the first outcome back. Default: one key per person and decision.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 200 },
                });
            }

            return Task.CompletedTask;
        });
    }
}
