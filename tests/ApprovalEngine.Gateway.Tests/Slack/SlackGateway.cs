using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Notifiers.Slack;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Slack;

/// <summary>
/// A gateway in front of the real server-filesystem whose writes need approval by group ops, which gets its cards in
/// channel C0APPROVALS and as direct messages, through a <see cref="FakeSlack"/>. Tokens and the signing secret come
/// from secret files. Slack users: U0OPS and U0LEAD (approvers), U0OWNER (the agent's owner, also in the group),
/// U0STRANGER (not an approver).
/// </summary>
public abstract class SlackGatewayBase : IAsyncLifetime
{
    public const string SigningSecret = "8f742231b10e8888abcd99yyyzzz85a5";
    public const string Channel = "C0APPROVALS";

    internal FakeSlack Slack { get; private set; } = null!;

    public McpGateway Gateway { get; private set; } = null!;

    public string Sandbox { get; private set; } = null!;

    protected abstract string Mode { get; }

    public async Task InitializeAsync()
    {
        Slack = await FakeSlack.StartAsync();
        Slack.AddUser("U0OPS", "ops@example.com");
        Slack.AddUser("U0LEAD", "lead@example.com");
        Slack.AddUser("U0OWNER", "owner@example.com");
        Slack.AddUser("U0STRANGER", "stranger@example.com");

        var directory = Path.Combine(Path.GetTempPath(), "ae-slack-" + Guid.NewGuid().ToString("N")[..12]);
        Sandbox = Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(Sandbox);
        await File.WriteAllTextAsync(Path.Combine(directory, "slack-bot-token"), FakeSlack.BotToken + "\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "slack-signing-secret"), SigningSecret + "\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "slack-app-token"), FakeSlack.AppToken + "\n");
                Gateway = await McpGateway.StartAsync($$"""
            server:
              publicUrl: https://approvals.example.com
            {{GatewayYaml.FilesAgent(Sandbox)}}
            approvers:
              ops:
                members: [ops@example.com, lead@example.com, owner@example.com]
                slack: {channels: [{{Channel}}], dm: true}
            slack:
              botToken: ${file:slack-bot-token}
              signingSecret: ${file:slack-signing-secret}
              appToken: ${file:slack-app-token}
              mode: {{Mode}}
              apiBaseUrl: {{Slack.ApiBaseUrl}}
            policy:
              default: read-only
              approvers: [ops]
              progressInterval: 200ms
              approval: {timeout: 1h, hold: 60s}
              rules:
                - name: writes-need-ops
                  action: approve
                  reason: files change only with a human's yes
                  match: {tools: [fs__write_file]}
            """, directory: directory);
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Slack.DisposeAsync();
    }

    public async Task<McpClient> ConnectAsync(CancellationToken cancellationToken)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(Gateway.Url("files")),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {Gateway.KeyOf("agent")}" },
        });
        var client = await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = "2025-11-25" }, cancellationToken: cancellationToken);
        while ((await client.ListToolsAsync(cancellationToken: cancellationToken)).All(t => t.Name != "fs__write_file"))
        {
            await Task.Delay(100, cancellationToken);
        }

        return client;
    }

    /// <summary>Starts a gated write of <paramref name="file"/> and returns the held call with its approval, once Slack shows it everywhere.</summary>
    internal async Task<HeldCall> HoldAsync(McpClient client, string file, string content, CancellationToken ct)
    {
        var path = Path.Combine(Sandbox, file);
        var call = client.CallToolAsync("fs__write_file", new Dictionary<string, object?> { ["path"] = path, ["content"] = content }, cancellationToken: ct).AsTask();
        var runtime = Gateway.Get<WorkflowRuntime>();
        while (true)
        {
            var page = await runtime.QueryAsync(new WorkflowQuery { AgentId = "agent", Status = ApprovalStatus.Pending, Limit = 1000 }, ct);
            if (page.Items.FirstOrDefault(w => w.State.Request.Arguments.GetRawText().Contains(file, StringComparison.Ordinal)) is { } found)
            {
                await WaitAsync(() => Slack.MessagesOf(found.Id).Count == 4, "the card reaches the channel and three direct messages", ct);
                return new HeldCall(found.State, call, path);
            }

            await Task.Delay(50, ct);
        }
    }

    /// <summary>The channel message of an approval (the one a click in the channel comes from).</summary>
    internal (string Channel, string Ts) ChannelMessage(Guid approvalId) => Slack.MessagesOf(approvalId).Keys.Single(k => k.Channel == Channel);

    public static async Task WaitAsync(Func<bool> condition, string what, CancellationToken ct)
    {
        while (!condition())
        {
            if (ct.IsCancellationRequested)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }

    /// <summary>Rows in a table for an approval: signals (wf_signal), refusals (slack_refusal).</summary>
    public async Task<long> CountAsync(string sql, Guid approvalId)
    {
        await using var connection = new NpgsqlConnection(Gateway.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new NpgsqlParameter { Value = approvalId } } };
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

public sealed class SlackHttpGateway : SlackGatewayBase
{
    protected override string Mode => "http";
}

public sealed class SlackSocketGateway : SlackGatewayBase
{
    protected override string Mode => "socket";
}

/// <summary>An agent's call held for approval.</summary>
internal sealed record HeldCall(ApprovalState Approval, Task<CallToolResult> Call, string Path)
{
    public Guid Id => Approval.Id;
}

/// <summary>Interactivity payloads shaped like Slack's, and signed requests carrying them.</summary>
internal static class SlackClicks
{
    private static int actionTs;

    public static string ActionTs() => string.Create(CultureInfo.InvariantCulture, $"1700000500.{Interlocked.Increment(ref actionTs):D6}");

    public static JsonObject BlockAction(string userId, Guid approvalId, string actionId, (string Channel, string Ts) message, Uri responseUrl, string? ts = null) => new()
    {
        ["type"] = "block_actions",
        ["user"] = new JsonObject { ["id"] = userId, ["username"] = userId.ToLowerInvariant(), ["team_id"] = FakeSlack.TeamId },
        ["api_app_id"] = "A0FAKE",
        ["token"] = "legacy-verification-token",
        ["container"] = new JsonObject { ["type"] = "message", ["message_ts"] = message.Ts, ["channel_id"] = message.Channel, ["is_ephemeral"] = false },
        ["trigger_id"] = "1337.42.abcdef",
        ["team"] = new JsonObject { ["id"] = FakeSlack.TeamId, ["domain"] = "fake" },
        ["channel"] = new JsonObject { ["id"] = message.Channel, ["name"] = "approvals" },
        ["message"] = new JsonObject { ["type"] = "message", ["ts"] = message.Ts, ["text"] = "Approval needed" },
        ["response_url"] = responseUrl.ToString(),
        ["actions"] = new JsonArray(new JsonObject
        {
            ["type"] = "button",
            ["action_id"] = actionId,
            ["block_id"] = $"approval:{approvalId:N}:1",
            ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = actionId == ApprovalCard.ApproveAction ? "Approve" : "Deny" },
            ["value"] = approvalId.ToString("D"),
            ["action_ts"] = ts ?? ActionTs(),
        }),
    };

    public static JsonObject DenySubmission(string userId, string viewId, string privateMetadata, string? reason) => new()
    {
        ["type"] = "view_submission",
        ["user"] = new JsonObject { ["id"] = userId, ["team_id"] = FakeSlack.TeamId },
        ["team"] = new JsonObject { ["id"] = FakeSlack.TeamId },
        ["view"] = new JsonObject
        {
            ["id"] = viewId,
            ["type"] = "modal",
            ["callback_id"] = SlackInteraction.DenyModalCallback,
            ["private_metadata"] = privateMetadata,
            ["state"] = new JsonObject
            {
                ["values"] = new JsonObject { ["reason"] = new JsonObject { ["reason"] = new JsonObject { ["type"] = "plain_text_input", ["value"] = reason } } },
            },
        },
    };

    /// <summary>Slack's v0 signature, computed here on its own (not with the gateway's code).</summary>
    public static string Sign(string secret, string timestamp, byte[] body)
    {
        byte[] basestring = [.. Encoding.UTF8.GetBytes($"v0:{timestamp}:"), .. body];
        return "v0=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), basestring));
    }

    /// <summary>The form body Slack posts: one field, payload, holding the JSON.</summary>
    public static byte[] Form(JsonObject payload) => Encoding.UTF8.GetBytes("payload=" + Uri.EscapeDataString(payload.ToJsonString()));

    /// <summary>A request as Slack sends it: signed with <paramref name="secret"/> at <paramref name="at"/>, unless unsigned.</summary>
    public static HttpRequestMessage Signed(byte[] body, string? secret = SlackGatewayBase.SigningSecret, DateTimeOffset? at = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "slack/interactions") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        if (secret is not null)
        {
            var timestamp = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            request.Headers.Add(SlackSignature.TimestampHeader, timestamp);
            request.Headers.Add(SlackSignature.SignatureHeader, Sign(secret, timestamp, body));
        }

        return request;
    }
}
