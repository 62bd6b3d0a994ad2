using ApprovalEngine.Gateway.Security;

namespace ApprovalEngine.Gateway.Humans;

/// <summary>
/// People's API tokens: <c>ae_user_</c> followed by 32 random bytes in base64url (43 characters), the same shape as
/// agent keys (<c>ae_live_</c>) with a prefix of their own, so neither is mistaken for the other. Only
/// <c>sha256:&lt;hex&gt;</c> hashes are stored, in <c>users.&lt;email&gt;.tokens</c>.
/// </summary>
public static class UserTokens
{
    public const string Prefix = "ae_user_";
    public const string HashPrefix = SecretFormat.HashPrefix;

    private static readonly SecretFormat Format = new(Prefix);

    public static string Generate() => Format.Generate();

    public static string Hash(string token) => SecretFormat.Hash(token);

    /// <summary>Whether <paramref name="token"/> hashes to <paramref name="storedHash"/>, compared in constant time.</summary>
    public static bool Matches(string token, string storedHash) => SecretFormat.Matches(token, storedHash);

    /// <summary>Whether <paramref name="token"/> has the shape of a token this class generates.</summary>
    public static bool IsWellFormedToken(string? token) => Format.IsWellFormed(token);

    /// <summary>Whether <paramref name="hash"/> is <c>sha256:</c> followed by 64 lowercase hex digits.</summary>
    public static bool IsWellFormedHash(string? hash) => SecretFormat.IsWellFormedHash(hash);
}
