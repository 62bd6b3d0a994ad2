using System.Buffers.Text;
using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Humans;

namespace ApprovalEngine.Gateway.Tests.Humans;

public sealed class UserTokensTests
{
    [Fact]
    public void Generate_Always_IsThePrefixAnd32RandomBytesInBase64Url()
    {
        var token = UserTokens.Generate();

        Assert.StartsWith("ae_user_", token, StringComparison.Ordinal);
        Assert.Equal(32, Base64Url.DecodeFromChars(token.AsSpan("ae_user_".Length)).Length);
        Assert.True(UserTokens.IsWellFormedToken(token));
    }

    [Fact]
    public void Generate_TwoCalls_ReturnDifferentTokens() => Assert.NotEqual(UserTokens.Generate(), UserTokens.Generate());

    [Fact]
    public void Generate_Token_IsNotAnAgentKeyAndAKeyIsNotAToken()
    {
        Assert.False(ApiKeys.IsWellFormedKey(UserTokens.Generate()));
        Assert.False(UserTokens.IsWellFormedToken(ApiKeys.Generate()));
    }

    [Fact]
    public void Hash_KnownInput_IsSha256OfTheWholeStringInLowercaseHex() =>
        Assert.Equal("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", UserTokens.Hash("abc"));

    [Fact]
    public void Hash_Token_IsAWellFormedHashWithoutTheToken()
    {
        var token = UserTokens.Generate();

        var hash = UserTokens.Hash(token);

        Assert.True(UserTokens.IsWellFormedHash(hash));
        Assert.DoesNotContain(token[8..], hash, StringComparison.Ordinal);
    }

    [Fact]
    public void Matches_ItsOwnHash_ReturnsTrue()
    {
        var token = UserTokens.Generate();

        Assert.True(UserTokens.Matches(token, UserTokens.Hash(token)));
    }

    [Fact]
    public void Matches_OtherTokenAlteredTokenOrMalformedHash_ReturnsFalse()
    {
        var token = UserTokens.Generate();
        var hash = UserTokens.Hash(token);

        Assert.False(UserTokens.Matches(UserTokens.Generate(), hash));
        Assert.False(UserTokens.Matches(token[..^1], hash));
        Assert.False(UserTokens.Matches(token, hash.ToUpperInvariant()));
        Assert.False(UserTokens.Matches(token, hash[..^1]));
        Assert.False(UserTokens.Matches(token, string.Empty));
    }

    [Theory]
    [InlineData("")]
    [InlineData("ae_user_")]
    [InlineData("ae_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")]
    [InlineData("ae_user_0123456789abcdefghijklmnopqrstuvwxyzABCDEF")]
    [InlineData("ae_user_0123456789abcdefghijklmnopqrstuvwxyzABCD+/G")]
    [InlineData("AE_USER_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")]
    public void IsWellFormedToken_WrongShape_ReturnsFalse(string token) => Assert.False(UserTokens.IsWellFormedToken(token));

    [Theory]
    [InlineData("")]
    [InlineData("sha256:")]
    [InlineData("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")]
    [InlineData("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a")]
    [InlineData("ae_user_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")]
    public void IsWellFormedHash_WrongShape_ReturnsFalse(string hash) => Assert.False(UserTokens.IsWellFormedHash(hash));
}
