using ApprovalEngine.Gateway.Hosting;
using ApprovalEngine.Gateway.Quickstart;
using ApprovalEngine.Gateway.Stdio;

namespace ApprovalEngine.Gateway.Tests.Quickstart;

/// <summary>
/// The client configurations in the README point where the quickstart serves and say what the gateway expects: the
/// stdio entry's command and key variable for Claude Desktop, the bundle URL and a bearer key for VS Code and Cursor.
/// (The TypeScript example is run against a real quickstart in <see cref="QuickstartProcessTests"/>.)
/// </summary>
public sealed class ReadmeExamplesTests
{
    [Fact]
    public void QuickstartUrl_IsTheDefaultListenAddressAndTheQuickstartBundle()
    {
        Assert.Equal($"{ListenAddress.Default}/mcp/{QuickstartSetup.Bundle}", ReadmeExamples.QuickstartUrl);
    }

    [Fact]
    public void ClaudeDesktop_LaunchesTheStdioEntryWithTheKeyInItsVariable()
    {
        var server = ReadmeExamples.Json("Claude Desktop")["mcpServers"]!["approval-engine"]!;
        var args = server["args"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();

        Assert.Equal("dotnet", server["command"]!.GetValue<string>());
        Assert.Equal("ApprovalEngine.Gateway.dll", Path.GetFileName(args[0]));
        Assert.Equal([StdioBridge.Command, "--url", ReadmeExamples.QuickstartUrl], args[1..]);
        Assert.StartsWith("ae_live_", server["env"]![StdioBridge.KeyVariable]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void VsCode_HttpServerWithTheKeyAsABearerFromAPasswordPrompt()
    {
        var config = ReadmeExamples.Json("VS Code");
        var server = config["servers"]!["approval-engine"]!;
        var input = Assert.Single(config["inputs"]!.AsArray())!;

        Assert.Equal("http", server["type"]!.GetValue<string>());
        Assert.Equal(ReadmeExamples.QuickstartUrl, server["url"]!.GetValue<string>());
        Assert.Equal($"Bearer ${{input:{input["id"]!.GetValue<string>()}}}", server["headers"]!["Authorization"]!.GetValue<string>());
        Assert.True(input["password"]!.GetValue<bool>());
    }

    [Fact]
    public void Cursor_UrlWithTheKeyAsABearer()
    {
        var server = ReadmeExamples.Json("Cursor")["mcpServers"]!["approval-engine"]!;

        Assert.Equal(ReadmeExamples.QuickstartUrl, server["url"]!.GetValue<string>());
        Assert.StartsWith("Bearer ae_live_", server["headers"]!["Authorization"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
