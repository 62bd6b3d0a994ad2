using ApprovalEngine.Gateway.Upstreams;

namespace ApprovalEngine.Gateway.Tests.Upstreams;

public sealed class RestartBackoffTests
{
    [Theory]
    [InlineData(0, 0.4, 0.6)]
    [InlineData(1, 0.8, 1.2)]
    [InlineData(3, 3.2, 4.8)]
    [InlineData(5, 12.8, 19.2)]
    public void Delay_Attempt_DoublesWithinTwentyPercent(int attempt, double minSeconds, double maxSeconds)
    {
        Assert.Equal(minSeconds, RestartBackoff.Delay(attempt, 0).TotalSeconds, 0.001);
        Assert.Equal(maxSeconds, RestartBackoff.Delay(attempt, 0.999999).TotalSeconds, 0.001);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(40)]
    [InlineData(int.MaxValue)]
    public void Delay_ManyAttempts_NeverAboveThirtySeconds(int attempt)
    {
        Assert.Equal(RestartBackoff.Maximum, RestartBackoff.Delay(attempt, 0.999999));
        Assert.True(RestartBackoff.Delay(attempt, 0) >= TimeSpan.FromSeconds(24));
    }

    [Fact]
    public void Delay_RandomSamples_Spread()
    {
        var delays = Enumerable.Range(0, 50).Select(_ => RestartBackoff.Delay(2, Random.Shared.NextDouble())).Distinct().Count();

        Assert.True(delays > 40, $"only {delays} distinct delays of 50");
    }
}
