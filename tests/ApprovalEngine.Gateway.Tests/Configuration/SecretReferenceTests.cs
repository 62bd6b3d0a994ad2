using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Tests.Configuration;

public sealed class SecretReferenceTests
{
    private const string Secret = "tok-7f3a9c1e-very-secret";

    [Fact]
    public void Parse_EnvReference_ResolvesIntoTheValue()
    {
        var result = ConfigTestFiles.Parse("""
            upstreams:
              api:
                type: http
                url: http://127.0.0.1:9000/mcp
                headers:
                  Authorization: Bearer ${env:API_TOKEN}
            """, new Dictionary<string, string> { ["API_TOKEN"] = Secret });

        Assert.Empty(result.Errors);
        Assert.Equal($"Bearer {Secret}", result.Config!.Upstreams["api"].Headers["Authorization"]);
    }

    [Fact]
    public void Load_FileReference_ResolvesRelativeToTheConfigFileWithoutTrailingNewline()
    {
        using var files = new ConfigTestFiles();
        files.Write(Secret + "\n", "client-secret.txt");
        files.Write("""
            upstreams:
              api:
                type: http
                url: http://127.0.0.1:9000/mcp
                oauth:
                  tokenUrl: http://127.0.0.1:9001/token
                  clientId: gateway
                  clientSecret: ${file:client-secret.txt}
            """);

        var result = GatewayConfigLoader.Load(files.ConfigPath, _ => null);

        Assert.Empty(result.Errors);
        Assert.Equal(Secret, result.Config!.Upstreams["api"].OAuth!.ClientSecret);
    }

    [Fact]
    public void Parse_MissingEnvVariable_ErrorNamesTheFieldAndReference()
    {
        var result = ConfigTestFiles.Parse("""
            upstreams:
              fs:
                type: stdio
                command: npx
                env:
                  GITHUB_TOKEN: ${env:GITHUB_TOKEN}
            """);

        var error = Assert.Single(result.Errors);
        Assert.Equal("gateway.yaml:6:21: upstreams.fs.env.GITHUB_TOKEN: environment variable GITHUB_TOKEN is not set (referenced as ${env:GITHUB_TOKEN})", error.ToString());
    }

    [Fact]
    public void Load_MissingSecretFile_ErrorNamesTheFile()
    {
        using var files = new ConfigTestFiles();
        files.Write("""
            upstreams:
              fs:
                type: stdio
                command: npx
                env: {TOKEN: "${file:absent.txt}"}
            """);

        var error = Assert.Single(GatewayConfigLoader.Load(files.ConfigPath, _ => null).Errors);

        Assert.Equal("upstreams.fs.env.TOKEN", error.Field);
        Assert.Contains("absent.txt", error.Message, StringComparison.Ordinal);
        Assert.Contains("not found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_InvalidValueFromASecret_ErrorShowsTheReferenceNotTheSecret()
    {
        var environment = new Dictionary<string, string> { ["UPSTREAM_URL"] = Secret, ["OWNER"] = Secret };

        var result = ConfigTestFiles.Parse("""
            upstreams:
              api:
                type: http
                url: ${env:UPSTREAM_URL}
            agents:
              bot:
                owner: ${env:OWNER}
                keys: []
            """, environment);

        Assert.Equal(2, result.Errors.Count);
        Assert.All(result.Errors, error => Assert.DoesNotContain(Secret, error.ToString(), StringComparison.Ordinal));
        Assert.Contains("(got \"${env:UPSTREAM_URL}\")", result.Errors[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownReferenceKind_IsAnError()
    {
        var result = ConfigTestFiles.Parse("""
            upstreams:
              fs: {type: stdio, command: "${vault:secret/x}"}
            """);

        var error = Assert.Single(result.Errors);
        Assert.Equal("upstreams.fs.command", error.Field);
        Assert.Contains("use ${env:NAME} or ${file:/path}", error.Message, StringComparison.Ordinal);
    }
}
