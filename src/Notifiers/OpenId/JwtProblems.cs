using Microsoft.IdentityModel.Tokens;

namespace ApprovalEngine.Notifiers.OpenId;

/// <summary>Why a JWT failed validation, in words that are safe to log and to answer with: never the token itself.</summary>
public static class JwtProblems
{
    public static string Describe(Exception? e) => e switch
    {
        SecurityTokenInvalidIssuerException => "wrong issuer",
        SecurityTokenInvalidAudienceException => "wrong audience",
        SecurityTokenExpiredException => "expired",
        SecurityTokenNotYetValidException => "not valid yet",
        SecurityTokenNoExpirationException => "no expiry",
        SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "bad signature",
        SecurityTokenInvalidAlgorithmException => "signing algorithm not allowed",
        null => "invalid token",
        _ => e.GetType().Name,
    };
}
