using System.Collections.Concurrent;
using System.Text.Json;
using ApprovalEngine.Notifiers.Slack;

namespace ApprovalEngine.Gateway.Slack;

/// <summary>
/// Slack users ↔ emails, cached: <c>users.info</c> for who clicked (the email is the approver identity the engine
/// checks), <c>users.lookupByEmail</c> for whom to send a direct message. Answers are kept for a while, and a
/// "no such user" for a shorter while, so a burst of clicks costs one lookup and a fixed profile is seen soon.
/// </summary>
internal sealed class SlackDirectory(SlackClients clients, TimeProvider time)
{
    private static readonly TimeSpan Found = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan NotFound = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, (string? Value, DateTimeOffset Until)> _emails = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string? Value, DateTimeOffset Until)> _userIds = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The email of a Slack user (null when the profile has none we may read), or the failed call.</summary>
    public async Task<(string? Email, SlackResult? Failure)> EmailOfAsync(string? teamId, string userId, CancellationToken ct)
    {
        // Keyed on team and user: user ids are per workspace.
        var key = $"{teamId}:{userId}";
        if (Cached(_emails, key) is { } hit)
        {
            return (hit.Value, null);
        }

        var result = await clients.Bot().UserInfoAsync(userId, ct);
        if (!result.Ok && result.Error != "user_not_found")
        {
            return (null, result);
        }

        var user = result.Ok && result.Body.TryGetProperty("user", out var u) ? u : default;
        var email = Child(Child(user, "profile"), "email") is { ValueKind: JsonValueKind.String } e ? e.GetString() : null;

        // Bots and deactivated accounts cannot decide, whatever their profile says.
        if (Child(user, "is_bot").ValueKind == JsonValueKind.True || Child(user, "deleted").ValueKind == JsonValueKind.True)
        {
            email = null;
        }

        Remember(_emails, key, string.IsNullOrWhiteSpace(email) ? null : email);
        return (email, null);
    }

    /// <summary>The Slack user id for an approver's email (null when nobody in the workspace has it), or the failed call.</summary>
    public async Task<(string? UserId, SlackResult? Failure)> UserIdOfAsync(string email, CancellationToken ct)
    {
        if (Cached(_userIds, email) is { } hit)
        {
            return (hit.Value, null);
        }

        var result = await clients.Bot().LookupUserByEmailAsync(email, ct);
        if (!result.Ok && result.Error != "users_not_found")
        {
            return (null, result);
        }

        var id = result.Ok && Child(Child(result.Body, "user"), "id") is { ValueKind: JsonValueKind.String } i ? i.GetString() : null;
        Remember(_userIds, email, id);
        return (id, null);
    }

    private (string? Value, DateTimeOffset Until)? Cached(ConcurrentDictionary<string, (string? Value, DateTimeOffset Until)> cache, string key) =>
        cache.TryGetValue(key, out var entry) && entry.Until > time.GetUtcNow() ? entry : null;

    private void Remember(ConcurrentDictionary<string, (string? Value, DateTimeOffset Until)> cache, string key, string? value)
    {
        // Bounded by the people who click or are approvers; stale entries are replaced on their next lookup.
        cache[key] = (value, time.GetUtcNow() + (value is null ? NotFound : Found));
    }

    private static JsonElement Child(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var child) ? child : default;
}
