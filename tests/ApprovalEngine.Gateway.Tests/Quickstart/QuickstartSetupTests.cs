using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Gateway.Quickstart;

namespace ApprovalEngine.Gateway.Tests.Quickstart;

public sealed class QuickstartSetupTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "ae-qs-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Prepare_FreshDirectory_WritesAValidConfigWhoseAgentOwnsThePrintedKey()
    {
        var files = QuickstartSetup.Prepare(directory);

        var loaded = GatewayConfigLoader.Load(files.ConfigPath);
        Assert.True(loaded.Config is not null, string.Join('\n', loaded.Errors));
        Assert.True(ApiKeys.IsWellFormedKey(files.AgentKey));
        Assert.True(new AgentDirectory(loaded.Config).TryFindByKey(files.AgentKey, out var agent));
        Assert.Equal(QuickstartSetup.AgentId, agent.Id);
        Assert.True(loaded.Config.Bundles[QuickstartSetup.Bundle].Admits(agent));
        Assert.Equal(["fs", "memory"], loaded.Config.Bundles[QuickstartSetup.Bundle].Upstreams);
        Assert.True(File.Exists(Path.Combine(directory, "sandbox", "welcome.txt")));
        Assert.DoesNotContain(files.AgentKey, File.ReadAllText(files.ConfigPath), StringComparison.Ordinal);
    }

    [Fact]
    public void Prepare_FreshDirectory_WritesReadOnlyPolicyWithAnApproverWhoOwnsThePrintedToken()
    {
        var files = QuickstartSetup.Prepare(directory);

        var config = GatewayConfigLoader.Load(files.ConfigPath).Config!;
        Assert.Equal(PolicyDefault.ReadOnly, config.Policy.Default);
        Assert.True(new UserDirectory(config).TryFindByToken(files.ApproverToken, out var user));
        Assert.Equal(QuickstartSetup.Approver, user.Email);
        Assert.Contains(Role.Approver, user.Roles);
        Assert.Contains(QuickstartSetup.Approver, config.Approvers[config.Policy.Approvers[0]].Members);
        Assert.NotEqual(QuickstartSetup.Approver, config.Agents[QuickstartSetup.AgentId].Owner);
        Assert.DoesNotContain(files.ApproverToken, File.ReadAllText(files.ConfigPath), StringComparison.Ordinal);
    }

    [Fact]
    public void Prepare_SecondTime_KeepsKeyAndEditedConfig()
    {
        var first = QuickstartSetup.Prepare(directory);
        File.AppendAllText(first.ConfigPath, "# edited by hand\n");

        var second = QuickstartSetup.Prepare(directory);

        Assert.Equal(first.AgentKey, second.AgentKey);
        Assert.EndsWith("# edited by hand\n", File.ReadAllText(second.ConfigPath), StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Prepare_KeyFile_IsReadableByItsOwnerOnly()
    {
        QuickstartSetup.Prepare(directory);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, "agent.key")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, "approver.token")));
    }
}
