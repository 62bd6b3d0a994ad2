using System.Text;
using ApprovalEngine.Notifiers.Slack;

namespace ApprovalEngine.Gateway.Tests.Slack;

public sealed class SlackSignatureTests
{
    private const string Secret = "8f742231b10e8888abcd99yyyzzz85a5";
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J");
    private static readonly DateTimeOffset SignedAt = DateTimeOffset.FromUnixTimeSeconds(1531420618);

    // Known answer, computed outside .NET: HMAC-SHA256(secret, "v0:1531420618:" + body) in lowercase hex.
    private const string Expected = "v0=bca5eef5dd737ed259b428b18cd24f679baa18c3fc5f1cb2a6ac9f03e717969a";

    [Fact]
    public void Compute_KnownAnswer_MatchesIndependentHmac()
    {
        Assert.Equal(Expected, SlackSignature.Compute(Secret, "1531420618", Body));
    }

    [Fact]
    public void Verify_SignedNow_Valid()
    {
        Assert.Equal(SignatureCheck.Valid, SlackSignature.Verify(Secret, "1531420618", Expected, Body, SignedAt.AddSeconds(30)));
    }

    [Theory]
    [InlineData(-299, SignatureCheck.Valid)]
    [InlineData(299, SignatureCheck.Valid)]
    [InlineData(301, SignatureCheck.Stale)]
    [InlineData(-301, SignatureCheck.Future)]
    public void Verify_ClockDistance_FiveMinutesEitherWay(int nowMinusSignedSeconds, SignatureCheck expected)
    {
        Assert.Equal(expected, SlackSignature.Verify(Secret, "1531420618", Expected, Body, SignedAt.AddSeconds(nowMinusSignedSeconds)));
    }

    [Fact]
    public void Verify_OtherSecretChangedBodyOrOtherTimestamp_Mismatch()
    {
        var changed = Encoding.UTF8.GetBytes("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3K");
        var laterSignature = SlackSignature.Compute(Secret, "1531420619", Body);

        Assert.Equal(SignatureCheck.Mismatch, SlackSignature.Verify("another-secret", "1531420618", Expected, Body, SignedAt));
        Assert.Equal(SignatureCheck.Mismatch, SlackSignature.Verify(Secret, "1531420618", Expected, changed, SignedAt));
        Assert.Equal(SignatureCheck.Mismatch, SlackSignature.Verify(Secret, "1531420618", laterSignature, Body, SignedAt));
    }

    [Theory]
    [InlineData(null, Expected, SignatureCheck.Unsigned)]
    [InlineData("1531420618", null, SignatureCheck.Unsigned)]
    [InlineData("", "", SignatureCheck.Unsigned)]
    [InlineData("1531420618.5", Expected, SignatureCheck.Malformed)]
    [InlineData("-1531420618", Expected, SignatureCheck.Malformed)]
    [InlineData("1531420618", "v1=bca5eef5dd737ed259b428b18cd24f679baa18c3fc5f1cb2a6ac9f03e717969a", SignatureCheck.Malformed)]
    [InlineData("1531420618", "v0=bca5eef5dd737ed259b428b18cd24f679baa18c3fc5f1cb2a6ac9f03e717969", SignatureCheck.Malformed)]
    [InlineData("1531420618", "v0=zca5eef5dd737ed259b428b18cd24f679baa18c3fc5f1cb2a6ac9f03e717969a", SignatureCheck.Malformed)]
    public void Verify_MissingOrMalformedHeaders_NotValid(string? timestamp, string? signature, SignatureCheck expected)
    {
        Assert.Equal(expected, SlackSignature.Verify(Secret, timestamp, signature, Body, SignedAt));
    }
}
