using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Security;
using ApprovalEngine.Gateway.Tests.Configuration;

namespace ApprovalEngine.Gateway.Tests.Security;

public sealed class NewSecretCommandTests
{
    [Fact]
    public void Run_NewToken_PrintsATokenAndItsHashThatTheConfigurationAccepts()
    {
        var (code, output, error) = Run("new-token");

        Assert.Equal(NewSecretCommand.ExitDone, code);
        var (token, hash) = Parse(output, "token: ");
        Assert.True(UserTokens.IsWellFormedToken(token));
        Assert.Equal(UserTokens.Hash(token), hash);
        Assert.Contains($"tokens: [{hash}]", error, StringComparison.Ordinal);
        Assert.DoesNotContain(token, error, StringComparison.Ordinal);
        var config = ConfigTestFiles.Parse($"users:\n  a@example.com:\n    roles: [admin]\n    tokens: [{hash}]\n");
        Assert.Empty(config.Errors);
    }

    [Fact]
    public void Run_NewKey_PrintsAnAgentKeyAndItsHash()
    {
        var (code, output, error) = Run("new-key");

        Assert.Equal(NewSecretCommand.ExitDone, code);
        var (key, hash) = Parse(output, "key:   ");
        Assert.True(ApiKeys.IsWellFormedKey(key));
        Assert.Equal(ApiKeys.Hash(key), hash);
        Assert.Contains($"keys: [{hash}]", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_TwoRuns_PrintDifferentSecrets() => Assert.NotEqual(Run("new-token").Output, Run("new-token").Output);

    [Fact]
    public void Run_UnknownArgument_Exits2WithUsageAndNoSecret()
    {
        var (code, output, error) = Run("new-token", "alice@example.com");

        Assert.Equal(NewSecretCommand.ExitBadArguments, code);
        Assert.Empty(output);
        Assert.Contains("unknown argument 'alice@example.com'", error, StringComparison.Ordinal);
        Assert.DoesNotMatch("ae_user_[A-Za-z0-9_-]{43}", error);
    }

    [Fact]
    public void Run_Help_PrintsUsageOnly()
    {
        var (code, output, _) = Run("new-key", "--help");

        Assert.Equal(NewSecretCommand.ExitDone, code);
        Assert.StartsWith("Usage: ApprovalEngine.Gateway new-key", output, StringComparison.Ordinal);
        Assert.DoesNotContain("hash:", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Matches_OtherCommands_ReturnsFalse()
    {
        Assert.True(NewSecretCommand.Matches(["new-token"]));
        Assert.False(NewSecretCommand.Matches(["verify"]));
        Assert.False(NewSecretCommand.Matches([]));
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = NewSecretCommand.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static (string Secret, string Hash) Parse(string output, string label)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith(label.TrimEnd(), lines[0], StringComparison.Ordinal);
        Assert.StartsWith("hash:  ", lines[1], StringComparison.Ordinal);
        return (lines[0][label.Length..], lines[1]["hash:  ".Length..]);
    }
}
