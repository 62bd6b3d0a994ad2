using ApprovalEngine.Gateway.Humans;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ApprovalEngine.Gateway.Tests.Humans;

public sealed class HumanAccessTests
{
    [Fact]
    public async Task RequireRole_NoRoles_ThrowsAndPointsToRequireHuman()
    {
        await using var app = WebApplication.CreateSlimBuilder().Build();

        var exception = Assert.Throws<ArgumentException>(() => app.MapGroup("/api").RequireRole());

        Assert.Contains("RequireHuman", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetHuman_EndpointWithoutTheFilter_Throws() =>
        Assert.Throws<InvalidOperationException>(() => new DefaultHttpContext().GetHuman());
}
