using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace ApprovalEngine.Gateway.Security;

/// <summary>
/// The shape agent API keys and people's API tokens share: a prefix naming the kind, so that secret scanners and
/// people recognise a leaked one and the gateway can tell a key from a token, then 32 random bytes in base64url
/// (43 characters). Only <c>sha256:&lt;hex&gt;</c> of the whole string is stored. The secrets are random, so a plain
/// SHA-256 (no salt, no stretching) is enough; both kinds share one hash space, so the configuration can check that
/// a hash names exactly one principal.
/// </summary>
internal sealed class SecretFormat(string prefix)
{
    public const string HashPrefix = "sha256:";

    private const int SecretBytes = 32;
    private const int EncodedSecretLength = 43;
    private const int HashHexLength = SHA256.HashSizeInBytes * 2;

    public string Prefix { get; } = prefix;

    public string Generate()
    {
        Span<byte> secret = stackalloc byte[SecretBytes];
        RandomNumberGenerator.Fill(secret);
        return Prefix + Base64Url.EncodeToString(secret);
    }

    /// <summary>Whether <paramref name="secret"/> has the shape of one <see cref="Generate"/> makes.</summary>
    public bool IsWellFormed(string? secret) =>
        secret is not null
        && secret.Length == Prefix.Length + EncodedSecretLength
        && secret.StartsWith(Prefix, StringComparison.Ordinal)
        && Base64Url.IsValid(secret.AsSpan(Prefix.Length));

    public static string Hash(string secret) => HashPrefix + Convert.ToHexStringLower(Digest(secret));

    /// <summary>The 32-byte SHA-256 of <paramref name="secret"/>: what a stored hash holds, without the text around it.</summary>
    public static byte[] Digest(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>The digest a well-formed stored hash holds (see <see cref="IsWellFormedHash"/>).</summary>
    public static byte[] DigestOf(string storedHash) => Convert.FromHexString(storedHash.AsSpan(HashPrefix.Length));

    /// <summary>Whether <paramref name="secret"/> hashes to <paramref name="storedHash"/>, compared in constant time.</summary>
    public static bool Matches(string secret, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Hash(secret)), Encoding.UTF8.GetBytes(storedHash));

    /// <summary>Whether <paramref name="hash"/> is <c>sha256:</c> followed by 64 lowercase hex digits.</summary>
    public static bool IsWellFormedHash(string? hash) =>
        hash is not null
        && hash.Length == HashPrefix.Length + HashHexLength
        && hash.StartsWith(HashPrefix, StringComparison.Ordinal)
        && hash.AsSpan(HashPrefix.Length).ContainsAnyExcept("0123456789abcdef") is false;
}
