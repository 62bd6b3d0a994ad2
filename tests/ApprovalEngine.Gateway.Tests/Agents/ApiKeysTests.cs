using ApprovalEngine.Gateway.Agents;

namespace ApprovalEngine.Gateway.Tests.Agents;

public sealed class ApiKeysTests
{
    [Fact]
    public void Generate_Always_ReturnsPrefixedBase64UrlOf32Bytes()
    {
        var key = ApiKeys.Generate();

        Assert.StartsWith("ae_live_", key, StringComparison.Ordinal);
        Assert.Equal(8 + 43, key.Length);
        Assert.Matches("^ae_live_[A-Za-z0-9_-]{43}$", key);
        Assert.True(ApiKeys.IsWellFormedKey(key));
    }

    [Fact]
    public void Generate_TwoCalls_ReturnDifferentKeys() => Assert.NotEqual(ApiKeys.Generate(), ApiKeys.Generate());

    [Fact]
    public void Hash_KnownInput_IsSha256HexOfTheKey()
    {
        // sha256("abc"), the FIPS 180-2 test vector.
        Assert.Equal("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ApiKeys.Hash("abc"));
    }

    [Fact]
    public void Hash_GeneratedKey_IsWellFormedAndDoesNotContainTheKey()
    {
        var key = ApiKeys.Generate();

        var hash = ApiKeys.Hash(key);

        Assert.True(ApiKeys.IsWellFormedHash(hash));
        Assert.DoesNotContain(key["ae_live_".Length..], hash, StringComparison.Ordinal);
    }

    [Fact]
    public void Matches_RightKey_ReturnsTrue()
    {
        var key = ApiKeys.Generate();

        Assert.True(ApiKeys.Matches(key, ApiKeys.Hash(key)));
    }

    [Fact]
    public void Matches_WrongKeyOrMalformedHash_ReturnsFalse()
    {
        var key = ApiKeys.Generate();
        var hash = ApiKeys.Hash(key);

        Assert.False(ApiKeys.Matches(ApiKeys.Generate(), hash));
        Assert.False(ApiKeys.Matches(key[..^1], hash));
        Assert.False(ApiKeys.Matches(key, hash.ToUpperInvariant()));
        Assert.False(ApiKeys.Matches(key, string.Empty));
    }

    [Theory]
    [InlineData("")]
    [InlineData("ae_live_")]
    [InlineData("ae_test_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")]
    [InlineData("ae_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEF")]
    [InlineData("ae_live_0123456789abcdefghijklmnopqrstuvwxyzABCD+/G")]
    public void IsWellFormedKey_WrongShape_ReturnsFalse(string key) => Assert.False(ApiKeys.IsWellFormedKey(key));

    [Theory]
    [InlineData("")]
    [InlineData("sha256:")]
    [InlineData("sha1:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")]
    [InlineData("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a")]
    [InlineData("sha256:za7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    public void IsWellFormedHash_WrongShape_ReturnsFalse(string hash) => Assert.False(ApiKeys.IsWellFormedHash(hash));
}
