using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using Microsoft.AspNetCore.Http;

namespace ApprovalEngine.Gateway.Tests.Humans;

public sealed class HumanAuthenticationTests
{
    private readonly string token = UserTokens.Generate();
    private readonly string agentKey = ApiKeys.Generate();
    private readonly LiveConfiguration config;
    private readonly HumanAuthentication authentication;

    public HumanAuthenticationTests()
    {
        config = new LiveConfiguration(Config(token));
        authentication = new HumanAuthentication(config);
    }

    [Fact]
    public async Task Authenticate_NoAuthorizationHeader_FailsWithNoToken() =>
        Assert.Equal(RefusalReason.NoToken, (await authentication.AuthenticateAsync(Request(null))).Failure);

    [Fact]
    public async Task Authenticate_AnotherScheme_FailsWithNoToken() =>
        Assert.Equal(RefusalReason.NoToken, (await authentication.AuthenticateAsync(Request($"Basic {token}"))).Failure);

    [Fact]
    public async Task Authenticate_UnknownToken_FailsWithInvalidToken()
    {
        var result = await authentication.AuthenticateAsync(Request($"Bearer {UserTokens.Generate()}"));

        Assert.Null(result.Human);
        Assert.Equal(RefusalReason.InvalidToken, result.Failure);
    }

    [Fact]
    public async Task Authenticate_ConfiguredAgentKey_FailsWithAgentKey()
    {
        var result = await authentication.AuthenticateAsync(Request($"Bearer {agentKey}"));

        Assert.Null(result.Human);
        Assert.Equal(RefusalReason.AgentKey, result.Failure);
    }

    [Fact]
    public async Task Authenticate_ValidToken_ReturnsThePersonWithRoles()
    {
        var result = await authentication.AuthenticateAsync(Request($"bearer  {token} "));

        Assert.Null(result.Failure);
        Assert.Equal("alice@example.com", result.Human!.Email);
        Assert.Equal([Role.Approver, Role.Auditor], result.Human.Roles);
        Assert.True(result.Human.Has(Role.Auditor));
        Assert.False(result.Human.Has(Role.Admin));
    }

    [Fact]
    public async Task Authenticate_TokenRemovedByAReload_FailsWithInvalidToken()
    {
        var next = UserTokens.Generate();
        Assert.NotNull((await authentication.AuthenticateAsync(Request($"Bearer {token}"))).Human);

        config.Apply(Config(next));

        Assert.Equal(RefusalReason.InvalidToken, (await authentication.AuthenticateAsync(Request($"Bearer {token}"))).Failure);
        Assert.NotNull((await authentication.AuthenticateAsync(Request($"Bearer {next}"))).Human);
    }

    private GatewayConfig Config(string userToken) => new()
    {
        Agents = new Dictionary<string, AgentConfig> { ["bot"] = new() { Id = "bot", Owner = "alice@example.com", Keys = [ApiKeys.Hash(agentKey)] } },
        Users = new Dictionary<string, UserConfig>
        {
            ["alice@example.com"] = new() { Email = "alice@example.com", Roles = [Role.Approver, Role.Auditor], Tokens = [UserTokens.Hash(userToken)] },
        },
    };

    private static DefaultHttpContext Request(string? authorization)
    {
        var context = new DefaultHttpContext();
        if (authorization is not null)
        {
            context.Request.Headers.Authorization = authorization;
        }

        return context;
    }
}
