using System.Collections.Concurrent;
using System.Text.Json;
using ApprovalEngine.Notifiers.Teams;

namespace ApprovalEngine.Gateway.Teams;

/// <summary>
/// Who a Teams user is, as an email: the member record the Bot Connector returns for the conversation (its
/// <c>email</c>, else its <c>userPrincipalName</c>), cached by Entra object id. Teams cannot address people by email,
/// so the other direction (approver emails to Teams user ids, for <c>refresh.userIds</c>) reads the member list.
/// </summary>
internal sealed class TeamsDirectory(TeamsClients clients, TimeProvider time)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromHours(1);
    private readonly ConcurrentDictionary<string, (string Email, DateTimeOffset Until)> _emails = new(StringComparer.Ordinal);

    /// <summary>The email of a user of a conversation; (null, failure) when Teams did not answer, (null, null) when it has none.</summary>
    public async Task<(string? Email, ConnectorResult? Failure)> EmailOfAsync(
        string serviceUrl, string conversationId, string userId, string? aadObjectId, CancellationToken ct)
    {
        var key = aadObjectId ?? userId;
        if (_emails.TryGetValue(key, out var cached) && cached.Until > time.GetUtcNow())
        {
            return (cached.Email, null);
        }

        var result = await clients.Connector().GetMemberAsync(serviceUrl, conversationId, aadObjectId ?? userId, ct);
        if (!result.Ok)
        {
            return result.Status == 404 ? (null, null) : (null, result);
        }

        var email = EmailOf(result.Body);
        if (email is not null)
        {
            _emails[key] = (email, time.GetUtcNow() + CacheFor);
        }

        return (email, null);
    }

    /// <summary>Teams user ids (<c>29:…</c>) of the conversation members whose email is one of <paramref name="emails"/>.</summary>
    public async Task<List<string>> UserIdsOfAsync(string serviceUrl, string conversationId, IReadOnlyList<string> emails, CancellationToken ct)
    {
        var result = await clients.Connector().GetMembersAsync(serviceUrl, conversationId, ct);
        var ids = new List<string>();
        if (!result.Ok || result.Body.ValueKind != JsonValueKind.Array)
        {
            return ids;
        }

        foreach (var member in result.Body.EnumerateArray())
        {
            var email = EmailOf(member);
            if (email is not null && emails.Contains(email, StringComparer.OrdinalIgnoreCase) && Text(member, "id") is { } id)
            {
                ids.Add(id);
                if (Text(member, "aadObjectId") is { } aad)
                {
                    _emails[aad] = (email, time.GetUtcNow() + CacheFor);
                }
            }
        }

        return ids;
    }

    private static string? EmailOf(JsonElement member) =>
        Text(member, "email") is { Length: > 0 } email ? email : Text(member, "userPrincipalName") is { Length: > 0 } upn && upn.Contains('@', StringComparison.Ordinal) ? upn : null;

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
