using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Tests.Agents;

public sealed class AgentDirectoryTests
{
    [Fact]
    public void TryFindByKey_KeyOfAnAgent_ReturnsThatAgent()
    {
        var (botKey, helperKey) = (ApiKeys.Generate(), ApiKeys.Generate());
        var directory = new AgentDirectory(Config(("bot", [botKey]), ("helper", [helperKey])));

        Assert.True(directory.TryFindByKey(botKey, out var bot));
        Assert.Equal("bot", bot.Id);
        Assert.True(directory.TryFindByKey(helperKey, out var helper));
        Assert.Equal("helper", helper.Id);
    }

    [Fact]
    public void TryFindByKey_UnknownEmptyOrNullKey_ReturnsFalse()
    {
        var directory = new AgentDirectory(Config(("bot", [ApiKeys.Generate()])));

        Assert.False(directory.TryFindByKey(ApiKeys.Generate(), out _));
        Assert.False(directory.TryFindByKey(string.Empty, out _));
        Assert.False(directory.TryFindByKey(null, out _));
    }

    [Fact]
    public void TryFindByKey_StoredHashPresentedAsKey_ReturnsFalse()
    {
        var key = ApiKeys.Generate();
        var directory = new AgentDirectory(Config(("bot", [key])));

        Assert.False(directory.TryFindByKey(ApiKeys.Hash(key), out _));
    }

    [Fact]
    public void TryFindByKey_RotationWithTwoKeys_BothWorkUntilTheOldIsRemoved()
    {
        var (oldKey, newKey) = (ApiKeys.Generate(), ApiKeys.Generate());
        var during = new AgentDirectory(Config(("bot", [oldKey, newKey])));
        var after = new AgentDirectory(Config(("bot", [newKey])));

        Assert.True(during.TryFindByKey(oldKey, out var viaOld));
        Assert.True(during.TryFindByKey(newKey, out var viaNew));
        Assert.Same(viaOld, viaNew);
        Assert.False(after.TryFindByKey(oldKey, out _));
        Assert.True(after.TryFindByKey(newKey, out _));
    }

    [Fact]
    public void FindById_KnownAndUnknownIds_ReturnsAgentOrNull()
    {
        var directory = new AgentDirectory(Config(("bot", [ApiKeys.Generate()])));

        Assert.Equal("bot", directory.FindById("bot")?.Id);
        Assert.Null(directory.FindById("ghost"));
        Assert.Single(directory.Agents);
    }

    [Fact]
    public void TryFindByKey_DirectoryFromLoadedFile_FindsTheAgent()
    {
        var key = ApiKeys.Generate();
        var result = GatewayConfigLoader.Parse(
            $"agents:\n  bot:\n    owner: a@example.com\n    keys: [{ApiKeys.Hash(key)}]\n", "gateway.yaml", _ => null);

        var directory = new AgentDirectory(result.Config!);

        Assert.True(directory.TryFindByKey(key, out var agent));
        Assert.Equal("a@example.com", agent.Owner);
    }

    private static GatewayConfig Config(params (string Id, string[] Keys)[] agents) => new()
    {
        Agents = agents.ToDictionary(
            agent => agent.Id,
            agent => new AgentConfig { Id = agent.Id, Owner = $"{agent.Id}@example.com", Keys = [.. agent.Keys.Select(ApiKeys.Hash)] }),
    };
}
