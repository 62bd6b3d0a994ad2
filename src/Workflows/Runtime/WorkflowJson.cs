using System.Text.Json;
using System.Text.Json.Serialization;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>The one JSON shape for workflow state, signal outcomes and task arguments stored in PostgreSQL.</summary>
public static class WorkflowJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
