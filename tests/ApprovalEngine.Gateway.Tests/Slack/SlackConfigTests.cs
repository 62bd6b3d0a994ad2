using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Tests.Configuration;

namespace ApprovalEngine.Gateway.Tests.Slack;

public sealed class SlackConfigTests
{
    private static readonly Dictionary<string, string> Environment = new()
    {
        ["SLACK_BOT_TOKEN"] = "xoxb-1-2-abc",
        ["SLACK_SIGNING_SECRET"] = "s3cr3t-signing",
        ["SLACK_APP_TOKEN"] = "xapp-1-A1-xyz",
    };

    // Each document has exactly one problem: (case, yaml, line, column, field, part of the message).
    public static TheoryData<string, string, int, int, string, string> SingleErrors => new()
    {
        { "unknown field, suggested", "slack:\n  botToken: ${env:SLACK_BOT_TOKEN}\n  signingSecret: ${env:SLACK_SIGNING_SECRET}\n  apiBaseURL: http://x/\n", 4, 3, "slack.apiBaseURL", "did you mean \"apiBaseUrl\"?" },
        { "no bot token", "slack:\n  signingSecret: ${env:SLACK_SIGNING_SECRET}\n", 1, 1, "slack.botToken", "is required" },
        { "http mode without signing secret", "slack:\n  botToken: ${env:SLACK_BOT_TOKEN}\n", 1, 1, "slack.signingSecret", "is required" },
        { "socket mode without app token", "slack:\n  botToken: ${env:SLACK_BOT_TOKEN}\n  mode: socket\n", 1, 1, "slack.appToken", "is required" },
        { "unknown mode", "slack:\n  botToken: ${env:SLACK_BOT_TOKEN}\n  signingSecret: ${env:SLACK_SIGNING_SECRET}\n  mode: websocket\n", 4, 9, "slack.mode", "must be one of: http, socket" },
        { "unset variable", "slack:\n  botToken: ${env:NOT_SET}\n  signingSecret: ${env:SLACK_SIGNING_SECRET}\n", 2, 13, "slack.botToken", "environment variable NOT_SET is not set" },
        { "app token where the bot token goes", "slack:\n  botToken: ${env:SLACK_APP_TOKEN}\n  signingSecret: ${env:SLACK_SIGNING_SECRET}\n", 2, 3, "slack.botToken", "must be a bot token (xoxb-…); the value is not shown" },
        { "bad base url", "slack:\n  botToken: ${env:SLACK_BOT_TOKEN}\n  signingSecret: ${env:SLACK_SIGNING_SECRET}\n  apiBaseUrl: slack.com/api\n", 4, 15, "slack.apiBaseUrl", "must be an absolute http or https URL" },
        { "channel name instead of id", "approvers:\n  ops:\n    members: [a@example.com]\n    slack: {channels: [\"#ops\"]}\nslack:\n  botToken: ${env:SLACK_BOT_TOKEN}\n  signingSecret: ${env:SLACK_SIGNING_SECRET}\n", 4, 24, "approvers.ops.slack.channels[0]", "must be a channel id such as C0123456789" },
        { "group delivery without slack section", "approvers:\n  ops:\n    members: [a@example.com]\n    slack: {dm: true}\n", 4, 5, "approvers.ops.slack", "needs the top-level slack section" },
        { "group delivery that delivers nowhere", "approvers:\n  ops:\n    members: [a@example.com]\n    slack: {dm: false}\nslack:\n  botToken: ${env:SLACK_BOT_TOKEN}\n  signingSecret: ${env:SLACK_SIGNING_SECRET}\n", 4, 5, "approvers.ops.slack", "needs channels, dm: true, or both" },
    };

    [Theory]
    [MemberData(nameof(SingleErrors))]
    public void Parse_OneProblem_ReportsItsPositionAndField(string name, string yaml, int line, int column, string field, string message)
    {
        var result = ConfigTestFiles.Parse("upstreams: {}\n" + yaml, Environment);

        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.True(error.Line == line + 1 && error.Column == column && error.Field == field, $"{name}: got {error}");
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_HttpMode_SecretsResolvedAndDeliveryPerGroup()
    {
        var result = ConfigTestFiles.Parse("""
            upstreams: {}
            approvers:
              ops:
                members: [a@example.com, b@example.com]
                slack: {channels: [C0123456789, G0PRIVATE1], dm: true}
              quiet:
                members: [c@example.com]
            slack:
              botToken: ${env:SLACK_BOT_TOKEN}
              signingSecret: ${env:SLACK_SIGNING_SECRET}
            """, Environment);

        var config = Assert.IsType<GatewayConfig>(result.Config);
        var slack = Assert.IsType<SlackConfig>(config.Slack);
        Assert.Equal(("xoxb-1-2-abc", "s3cr3t-signing", null, SlackMode.Http), (slack.BotToken, slack.SigningSecret, slack.AppToken, slack.Mode));
        Assert.Equal(new Uri("https://slack.com/api/"), slack.ApiBaseUrl);
        Assert.Equal(["C0123456789", "G0PRIVATE1"], config.Approvers["ops"].Slack!.Channels);
        Assert.True(config.Approvers["ops"].Slack!.Dm);
        Assert.Null(config.Approvers["quiet"].Slack);
    }

    [Fact]
    public void Parse_SocketModeFromSecretFiles_BaseUrlGetsItsSlash()
    {
        using var files = new ConfigTestFiles();
        File.WriteAllText(Path.Combine(files.Directory, "bot"), "xoxb-from-file\n");
        File.WriteAllText(Path.Combine(files.Directory, "app"), "xapp-from-file\n");
        var path = files.Write("""
            upstreams: {}
            slack:
              botToken: ${file:bot}
              appToken: ${file:app}
              mode: socket
              apiBaseUrl: http://127.0.0.1:9/api
            """);

        var slack = GatewayConfigLoader.Load(path, _ => null).Config!.Slack!;

        Assert.Equal(("xoxb-from-file", "xapp-from-file", null, SlackMode.Socket), (slack.BotToken, slack.AppToken, slack.SigningSecret, slack.Mode));
        Assert.Equal("http://127.0.0.1:9/api/", slack.ApiBaseUrl.ToString());
    }

    [Fact]
    public void Parse_RawTokenWithTypo_ErrorNeverShowsTheValueAndToStringHidesSecrets()
    {
        var leaked = "xoxp-a-personal-token-pasted-by-mistake";
        var result = ConfigTestFiles.Parse($"upstreams: {{}}\nslack:\n  botToken: {leaked}\n  signingSecret: hunter2-signing\n");
        var valid = ConfigTestFiles.Parse("upstreams: {}\nslack:\n  botToken: ${env:SLACK_BOT_TOKEN}\n  signingSecret: ${env:SLACK_SIGNING_SECRET}\n", Environment);

        var error = Assert.Single(result.Errors);
        Assert.DoesNotContain(leaked, error.ToString(), StringComparison.Ordinal);
        var text = valid.Config!.Slack!.ToString();
        Assert.DoesNotContain("xoxb-1-2-abc", text, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-signing", text, StringComparison.Ordinal);
    }
}
