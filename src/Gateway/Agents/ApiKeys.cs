using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace ApprovalEngine.Gateway.Agents;

/// <summary>
/// Agent API keys: <c>ae_live_</c> followed by 32 random bytes in base64url (43 characters). The prefix lets
/// secret scanners and people recognise a leaked key. Only <c>sha256:&lt;hex&gt;</c> hashes are stored; the
/// keys are random, so a plain SHA-256 (no salt, no stretching) is enough.
/// </summary>
public static class ApiKeys
{
    public const string Prefix = "ae_live_";
    public const string HashPrefix = "sha256:";

    private const int SecretBytes = 32;
    private const int EncodedSecretLength = 43;
    private const int HashHexLength = 64;

    public static string Generate()
    {
        Span<byte> secret = stackalloc byte[SecretBytes];
        RandomNumberGenerator.Fill(secret);
        return Prefix + Base64Url.EncodeToString(secret);
    }

    public static string Hash(string key) => HashPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>Whether <paramref name="key"/> hashes to <paramref name="storedHash"/>, compared in constant time.</summary>
    public static bool Matches(string key, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Hash(key)), Encoding.UTF8.GetBytes(storedHash));

    /// <summary>Whether <paramref name="key"/> has the shape of a key this class generates.</summary>
    public static bool IsWellFormedKey(string? key) =>
        key is not null
        && key.Length == Prefix.Length + EncodedSecretLength
        && key.StartsWith(Prefix, StringComparison.Ordinal)
        && Base64Url.IsValid(key.AsSpan(Prefix.Length));

    /// <summary>Whether <paramref name="hash"/> is <c>sha256:</c> followed by 64 lowercase hex digits.</summary>
    public static bool IsWellFormedHash(string? hash) =>
        hash is not null
        && hash.Length == HashPrefix.Length + HashHexLength
        && hash.StartsWith(HashPrefix, StringComparison.Ordinal)
        && hash.AsSpan(HashPrefix.Length).ContainsAnyExcept("0123456789abcdef") is false;
}
