using ApprovalEngine.Gateway.Security;

namespace ApprovalEngine.Gateway.Agents;

/// <summary>
/// Agent API keys: <c>ae_live_</c> followed by 32 random bytes in base64url (43 characters). The prefix lets
/// secret scanners and people recognise a leaked key. Only <c>sha256:&lt;hex&gt;</c> hashes are stored; the
/// keys are random, so a plain SHA-256 (no salt, no stretching) is enough.
/// </summary>
public static class ApiKeys
{
    public const string Prefix = "ae_live_";
    public const string HashPrefix = SecretFormat.HashPrefix;

    private static readonly SecretFormat Format = new(Prefix);

    public static string Generate() => Format.Generate();

    public static string Hash(string key) => SecretFormat.Hash(key);

    /// <summary>Whether <paramref name="key"/> hashes to <paramref name="storedHash"/>, compared in constant time.</summary>
    public static bool Matches(string key, string storedHash) => SecretFormat.Matches(key, storedHash);

    /// <summary>Whether <paramref name="key"/> has the shape of a key this class generates.</summary>
    public static bool IsWellFormedKey(string? key) => Format.IsWellFormed(key);

    /// <summary>Whether <paramref name="hash"/> is <c>sha256:</c> followed by 64 lowercase hex digits.</summary>
    public static bool IsWellFormedHash(string? hash) => SecretFormat.IsWellFormedHash(hash);
}
