using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Tests.Configuration;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1d", 86_400_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("0s", 0)]
    public void TryParse_ValidText_ReturnsDuration(string text, long milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("30")]
    [InlineData("s")]
    [InlineData("30 s")]
    [InlineData("30sec")]
    [InlineData("5M")]
    [InlineData("-5s")]
    [InlineData("1..5s")]
    [InlineData("99999999999999999d")]
    public void TryParse_InvalidText_ReturnsFalse(string text) => Assert.False(Durations.TryParse(text, out _));
}
