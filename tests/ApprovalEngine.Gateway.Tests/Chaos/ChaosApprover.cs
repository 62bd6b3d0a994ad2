using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Gateway.Tests.Chaos;

/// <summary>One decision request and what came back: an HTTP answer, or no answer at all (its node died).</summary>
internal sealed record ClickAnswer(Click Click, string Node, int? Status, bool Accepted, string? StatusAfter, bool Replayed, string Detail)
{
    /// <summary>The gateway answered (200 or a refusal): the approver knows where the decision stands.</summary>
    public bool Answered => Status is not null;

    public override string ToString() => Status is { } status
        ? $"{Click}→{status}{(Accepted ? $" {StatusAfter}{(Replayed ? " (replayed)" : "")}" : "")}"
        : $"{Click}→no answer ({Detail})";
}

/// <summary>The approver: decisions over the approvals HTTP API with ops@example.com's token, on the node each click names.</summary>
internal sealed class ChaosApprover(string token) : IDisposable
{
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(20) };

    /// <summary>POST /api/approvals/{id}/{verb} on <paramref name="baseUrl"/>; an answer that never came is recorded, not thrown.</summary>
    public async Task<ClickAnswer> DecideAsync(Click click, string node, string baseUrl, Guid id, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"{baseUrl}/api/approvals/{id:D}/{click.Verb}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (click.Key is { } key)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            // 200 carries the signal's outcome; a refusal is problem+json (whose "status" is the HTTP code).
            var body = response.IsSuccessStatusCode && text.Length > 0 ? JsonNode.Parse(text) : null;
            return new ClickAnswer(
                click, node, (int)response.StatusCode,
                body?["accepted"]?.GetValue<bool>() == true,
                body?["status"]?.GetValue<string>(),
                body?["replayed"]?.GetValue<bool>() == true,
                text);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // The node died with the request in flight: it may or may not have applied the decision.
            return new ClickAnswer(click, node, null, false, null, false, e.GetType().Name);
        }
    }

    public void Dispose() => http.Dispose();
}
