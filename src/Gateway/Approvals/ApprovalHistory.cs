using System.Text.Json;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Approvals;

/// <summary>An approval's history as stored, and whether its hash chain still holds.</summary>
public sealed record ApprovalHistory(Guid ApprovalId, ChainView Chain, IReadOnlyList<HistoryEventView> Events)
{
    public static ApprovalHistory From(Guid id, VerifiedHistory history) => new(
        id,
        new ChainView(history.Chain.Valid, history.Chain.Events, history.Chain.FirstBadSeq, history.Chain.Problem),
        [.. history.Events.Select(e => new HistoryEventView(e.Seq, e.Type, e.RecordedAt, e.Actor, ParseBody(e.Body), Convert.ToHexStringLower(e.Hash)))]);

    // The stored text is what was hashed; a body that is not JSON (only by tampering) is shown as the text it is.
    private static JsonElement ParseBody(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(body);
        }
    }
}

/// <param name="CheckedEvents">Events recomputed.</param>
/// <param name="BrokenAt">The first event (seq) that does not verify; null when the chain is valid.</param>
public sealed record ChainView(bool Valid, int CheckedEvents, int? BrokenAt, string? Problem);

/// <param name="Hash">The event's chain hash, lowercase hex.</param>
public sealed record HistoryEventView(int Seq, string Type, DateTimeOffset At, string Actor, JsonElement Body, string Hash);
