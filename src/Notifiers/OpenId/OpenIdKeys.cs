using System.Text.Json;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalEngine.Notifiers.OpenId;

/// <summary>A published signing key and, for the Bot Framework, the channels it may sign for (its <c>endorsements</c>; empty elsewhere).</summary>
public sealed record EndorsedKey(JsonWebKey Key, IReadOnlyList<string> Endorsements);

/// <summary>How often the signing keys are fetched again.</summary>
public sealed record OpenIdKeyOptions
{
    /// <summary>Keys are fetched again after this long even when every token names a known key.</summary>
    public TimeSpan CacheDuration { get; init; } = TimeSpan.FromDays(1);

    /// <summary>
    /// A token naming an unknown key triggers a fetch (keys rotate), but no more often than this, so a stream of
    /// forged key ids cannot make us hammer the metadata endpoint.
    /// </summary>
    public TimeSpan MinimumRefreshInterval { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// The signing keys published behind an OpenID Connect metadata document (the Bot Framework's, or an identity
/// provider's for people): the metadata names the JWKS URL, and the JWKS is read as raw JSON because the Bot
/// Framework's <c>endorsements</c> array is not part of the standard key model.
/// </summary>
public sealed class OpenIdKeys(HttpClient http, Uri metadataUrl, OpenIdKeyOptions options, TimeProvider time)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Dictionary<string, EndorsedKey>? _keys;
    private DateTimeOffset _fetchedAt;
    private int _fetches;

    public Uri MetadataUrl => metadataUrl;

    /// <summary>How many times the keys were fetched (for diagnostics and tests).</summary>
    public int Fetches => Volatile.Read(ref _fetches);

    /// <summary>The key with this id, fetching the keys when none are cached, they are stale, or the id is new.</summary>
    public async Task<EndorsedKey?> FindAsync(string keyId, CancellationToken ct)
    {
        if (Lookup(keyId, allowStale: false) is { } cached)
        {
            return cached;
        }

        await _gate.WaitAsync(ct);
        try
        {
            if (Lookup(keyId, allowStale: false) is { } fetchedMeanwhile)
            {
                return fetchedMeanwhile;
            }

            var age = time.GetUtcNow() - _fetchedAt;
            if (_keys is null || age >= options.CacheDuration || age >= options.MinimumRefreshInterval)
            {
                _keys = await FetchAsync(ct);
                _fetchedAt = time.GetUtcNow();
                Interlocked.Increment(ref _fetches);
            }

            return Lookup(keyId, allowStale: true);
        }
        finally
        {
            _gate.Release();
        }
    }

    private EndorsedKey? Lookup(string keyId, bool allowStale)
    {
        var keys = _keys;
        if (keys is null || (!allowStale && time.GetUtcNow() - _fetchedAt >= options.CacheDuration))
        {
            return null;
        }

        return keys.GetValueOrDefault(keyId);
    }

    private async Task<Dictionary<string, EndorsedKey>> FetchAsync(CancellationToken ct)
    {
        var metadata = OpenIdConnectConfiguration.Create(await http.GetStringAsync(metadataUrl, ct));
        if (!Uri.TryCreate(metadata.JwksUri, UriKind.Absolute, out var jwksUri))
        {
            throw new InvalidOperationException($"The OpenID metadata at {metadataUrl} has no jwks_uri.");
        }

        using var document = JsonDocument.Parse(await http.GetStringAsync(jwksUri, ct));
        var keys = new Dictionary<string, EndorsedKey>(StringComparer.Ordinal);
        if (!document.RootElement.TryGetProperty("keys", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return keys;
        }

        foreach (var element in array.EnumerateArray())
        {
            var key = new JsonWebKey(element.GetRawText());
            if (string.IsNullOrEmpty(key.Kid))
            {
                continue;
            }

            var endorsements = element.TryGetProperty("endorsements", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToList()
                : [];
            keys[key.Kid] = new EndorsedKey(key, endorsements);
        }

        return keys;
    }
}

/// <summary>
/// The <see cref="OpenIdKeys"/> of the metadata URL currently configured: kept while the URL is unchanged (so the keys
/// stay cached across requests and reloads), replaced when a reload changes it.
/// </summary>
public sealed class CurrentOpenIdKeys(Func<HttpClient> httpClient, OpenIdKeyOptions options, TimeProvider time)
{
    private readonly Lock _gate = new();
    private OpenIdKeys? _keys;

    public OpenIdKeys For(Uri metadataUrl)
    {
        lock (_gate)
        {
            if (_keys is not { } keys || keys.MetadataUrl != metadataUrl)
            {
                _keys = keys = new OpenIdKeys(httpClient(), metadataUrl, options, time);
            }

            return keys;
        }
    }
}
