using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Security;

namespace ApprovalEngine.Gateway.Humans;

/// <summary>
/// Finds the person a presented API token belongs to. Built from one configuration; build a new one when the
/// configuration changes, so a token rotated out of the file stops working with the reload.
/// </summary>
public sealed class UserDirectory
{
    private readonly Dictionary<string, UserConfig> byEmail;
    private readonly (byte[] Digest, UserConfig User)[] tokens;

    public UserDirectory(GatewayConfig config)
    {
        byEmail = new Dictionary<string, UserConfig>(config.Users, StringComparer.OrdinalIgnoreCase);
        tokens = [.. config.Users.Values.SelectMany(user => user.Tokens.Select(hash => (SecretFormat.DigestOf(hash), user)))];
    }

    public IReadOnlyCollection<UserConfig> Users => byEmail.Values;

    /// <summary>
    /// The person whose token this is, or false. Every stored digest is compared in constant time and the scan does
    /// not stop at a match, so the time taken depends only on how many tokens are configured, not on which one (if
    /// any) matched or how much of it. People's tokens are few; a scan of 32-byte digests costs next to nothing.
    /// </summary>
    public bool TryFindByToken(string? presentedToken, [NotNullWhen(true)] out UserConfig? user)
    {
        user = null;
        if (string.IsNullOrEmpty(presentedToken))
        {
            return false;
        }

        var digest = SecretFormat.Digest(presentedToken);
        foreach (var (candidate, owner) in tokens)
        {
            // The validator rejects a hash shared by two people; first wins should one slip through.
            if (CryptographicOperations.FixedTimeEquals(digest, candidate) && user is null)
            {
                user = owner;
            }
        }

        return user is not null;
    }

    /// <summary>The person with this email, ignoring case.</summary>
    public UserConfig? FindByEmail(string email) => byEmail.GetValueOrDefault(email);
}
