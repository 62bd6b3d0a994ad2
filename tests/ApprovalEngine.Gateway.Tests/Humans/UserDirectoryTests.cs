using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Configuration;

namespace ApprovalEngine.Gateway.Tests.Humans;

public sealed class UserDirectoryTests
{
    [Fact]
    public void TryFindByToken_EachPersonsToken_FindsThatPerson()
    {
        var (alice, bob) = (UserTokens.Generate(), UserTokens.Generate());
        var directory = new UserDirectory(Config(("alice@example.com", [alice]), ("bob@example.com", [bob])));

        Assert.True(directory.TryFindByToken(alice, out var first));
        Assert.True(directory.TryFindByToken(bob, out var second));
        Assert.Equal("alice@example.com", first.Email);
        Assert.Equal("bob@example.com", second.Email);
    }

    [Fact]
    public void TryFindByToken_BothTokensDuringRotation_FindTheSamePerson()
    {
        var (old, fresh) = (UserTokens.Generate(), UserTokens.Generate());
        var directory = new UserDirectory(Config(("alice@example.com", [old, fresh])));

        Assert.True(directory.TryFindByToken(old, out var byOld));
        Assert.True(directory.TryFindByToken(fresh, out var byFresh));
        Assert.Same(byOld, byFresh);
    }

    [Fact]
    public void TryFindByToken_UnknownEmptyOrMissing_FindsNobody()
    {
        var directory = new UserDirectory(Config(("alice@example.com", [UserTokens.Generate()])));

        Assert.False(directory.TryFindByToken(UserTokens.Generate(), out _));
        Assert.False(directory.TryFindByToken(string.Empty, out _));
        Assert.False(directory.TryFindByToken(null, out _));
    }

    [Fact]
    public void TryFindByToken_TheStoredHashItself_FindsNobody()
    {
        var token = UserTokens.Generate();
        var directory = new UserDirectory(Config(("alice@example.com", [token])));

        Assert.False(directory.TryFindByToken(UserTokens.Hash(token), out _));
    }

    [Fact]
    public void TryFindByToken_AgentKeyInTheSameConfiguration_FindsNobody()
    {
        var key = ApiKeys.Generate();
        var config = Config(("alice@example.com", [UserTokens.Generate()])) with
        {
            Agents = new Dictionary<string, AgentConfig> { ["bot"] = new() { Id = "bot", Owner = "alice@example.com", Keys = [ApiKeys.Hash(key)] } },
        };

        Assert.False(new UserDirectory(config).TryFindByToken(key, out _));
    }

    [Fact]
    public void TryFindByToken_LoadedFromYaml_FindsThePersonWithRoles()
    {
        var token = UserTokens.Generate();
        var result = ConfigTestFiles.Parse($"users:\n  Alice@Example.com:\n    roles: [auditor, admin]\n    tokens: [{UserTokens.Hash(token)}]\n");

        var directory = new UserDirectory(result.Config!);

        Assert.True(directory.TryFindByToken(token, out var user));
        Assert.Equal("Alice@Example.com", user.Email);
        Assert.Equal([Role.Auditor, Role.Admin], user.Roles);
        Assert.Same(user, directory.FindByEmail("alice@example.com"));
        Assert.Null(directory.FindByEmail("bob@example.com"));
    }

    private static GatewayConfig Config(params (string Email, string[] Tokens)[] users) => new()
    {
        Users = users.ToDictionary(
            user => user.Email,
            user => new UserConfig { Email = user.Email, Roles = [Role.Approver], Tokens = [.. user.Tokens.Select(UserTokens.Hash)] }),
    };
}
