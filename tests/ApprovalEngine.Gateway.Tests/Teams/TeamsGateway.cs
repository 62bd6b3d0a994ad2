using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Notifiers.OpenId;
using ApprovalEngine.Notifiers.Teams;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;

namespace ApprovalEngine.Gateway.Tests.Teams;

/// <summary>
/// A gateway in front of the real server-filesystem whose writes need approval by group ops, which gets its cards in
/// a Teams channel; Microsoft is a <see cref="FakeMicrosoft"/>. The bot is installed in the channel at start.
/// </summary>
public sealed class TeamsGateway : IAsyncLifetime
{
    public const string ChannelId = "19:approvals@thread.tacv2";

    internal FakeMicrosoft Microsoft { get; private set; } = null!;

    public McpGateway Gateway { get; private set; } = null!;

    public string Sandbox { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Microsoft = await FakeMicrosoft.StartAsync();
        foreach (var name in new[] { "ops", "second", "owner", "outsider" })
        {
            Microsoft.AddMember($"{name}@example.com", name);
        }

        var directory = Path.Combine(Path.GetTempPath(), "ae-teams-" + Guid.NewGuid().ToString("N")[..12]);
        Sandbox = Path.Combine(directory, "sandbox");
        Directory.CreateDirectory(Sandbox);
                Gateway = await McpGateway.StartAsync($$"""
            {{GatewayYaml.FilesAgent(Sandbox)}}
            approvers:
              ops:
                members: [ops@example.com, second@example.com, owner@example.com]
                teams: {channels: ["{{ChannelId}}"]}
            teams:
              appId: {{FakeMicrosoft.AppId}}
              appPassword: {{FakeMicrosoft.AppPassword}}
              tenantId: {{FakeMicrosoft.TenantId}}
              openIdMetadataUrl: {{Microsoft.MetadataUrl}}
              tokenUrl: "{{Microsoft.BaseUrl}}/{tenantId}/oauth2/v2.0/token"
              serviceUrls: ["{{Microsoft.ServiceUrl}}"]
            policy:
              default: read-only
              approvers: [ops]
              approval: {timeout: 1h, hold: 60s}
            """,
            services => services.AddSingleton(new OpenIdKeyOptions { MinimumRefreshInterval = TimeSpan.Zero }),
            directory: directory);

        using var installed = await SendAsync(ChannelInstall(ChannelId), Microsoft.Token());
        installed.EnsureSuccessStatusCode();
    }

    public JsonObject ChannelInstall(string channelId) => new()
    {
        ["type"] = "conversationUpdate",
        ["id"] = "install-" + Guid.NewGuid().ToString("N"),
        ["channelId"] = "msteams",
        ["serviceUrl"] = Microsoft.ServiceUrl,
        ["from"] = new JsonObject { ["id"] = "29:ops", ["aadObjectId"] = "aad-ops" },
        ["recipient"] = new JsonObject { ["id"] = "28:" + FakeMicrosoft.AppId },
        ["conversation"] = new JsonObject { ["id"] = channelId, ["conversationType"] = "channel", ["isGroup"] = true, ["tenantId"] = FakeMicrosoft.TenantId },
        ["membersAdded"] = new JsonArray { new JsonObject { ["id"] = "28:" + FakeMicrosoft.AppId } },
        ["channelData"] = new JsonObject
        {
            ["eventType"] = "teamMemberAdded",
            ["team"] = new JsonObject { ["id"] = channelId, ["name"] = "Ops Team" },
            ["channel"] = new JsonObject { ["id"] = channelId, ["name"] = "Approvals" },
            ["tenant"] = new JsonObject { ["id"] = FakeMicrosoft.TenantId },
        },
    };

    /// <summary>The invoke Teams sends when <paramref name="who"/> clicks a button (or their client refreshes) on a card.</summary>
    public JsonObject Invoke(Guid approvalId, string verb, string who, string? reason = null, string? activityId = null, string? replyTo = null)
    {
        var data = new JsonObject { ["approvalId"] = approvalId.ToString("D") };
        if (reason is not null)
        {
            data["reason"] = reason;
        }

        return new JsonObject
        {
            ["type"] = "invoke",
            ["name"] = "adaptiveCard/action",
            ["id"] = activityId ?? "f:" + Guid.NewGuid().ToString("N"),
            ["channelId"] = "msteams",
            ["serviceUrl"] = Microsoft.ServiceUrl,
            ["replyToId"] = replyTo,
            ["from"] = new JsonObject { ["id"] = "29:" + who, ["aadObjectId"] = "aad-" + who, ["name"] = who },
            ["recipient"] = new JsonObject { ["id"] = "28:" + FakeMicrosoft.AppId },
            ["conversation"] = new JsonObject { ["id"] = ChannelId + ";messageid=" + (replyTo ?? "0"), ["conversationType"] = "channel" },
            ["channelData"] = new JsonObject { ["tenant"] = new JsonObject { ["id"] = FakeMicrosoft.TenantId } },
            ["value"] = new JsonObject
            {
                ["action"] = new JsonObject { ["type"] = "Action.Execute", ["verb"] = verb, ["data"] = data },
                ["trigger"] = verb == ApprovalAdaptiveCard.RefreshVerb ? "automatic" : "manual",
            },
        };
    }

    public async Task<HttpResponseMessage> SendAsync(JsonObject activity, string? token)
    {
        using var client = Gateway.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/messages") { Content = new StringContent(activity.ToJsonString(), Encoding.UTF8, "application/json") };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await client.SendAsync(request);
    }

    /// <summary>Sends an invoke with a valid token and returns the HTTP status and the invoke response body.</summary>
    public async Task<(int Status, JsonObject Body)> InvokeAsync(JsonObject activity)
    {
        using var response = await SendAsync(activity, Microsoft.Token());
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text)!.AsObject());
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

    public async Task<ApprovalState> PendingAsync(string marker, CancellationToken cancellationToken)
    {
        var runtime = Gateway.Get<WorkflowRuntime>();
        while (true)
        {
            var page = await runtime.QueryAsync(new WorkflowQuery { AgentId = "agent", Status = ApprovalStatus.Pending }, cancellationToken);
            if (page.Items.FirstOrDefault(w => w.State.Request.Arguments.GetRawText().Contains(marker, StringComparison.Ordinal)) is { } found)
            {
                return found.State;
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>The first Bot Connector call of this method whose card is about the approval, once it was made.</summary>
    internal async Task<FakeMicrosoft.ConnectorCall> CardCallAsync(Guid approvalId, string method, CancellationToken ct, Func<JsonObject, bool>? where = null)
    {
        while (true)
        {
            var call = Microsoft.Calls.FirstOrDefault(c => c.Method == method && c.Status == 200 && CardOf(c.Body).ToJsonString().Contains(approvalId.ToString("D"), StringComparison.Ordinal)
                && (where is null || where(CardOf(c.Body))));
            if (call is not null)
            {
                return call;
            }

            await Task.Delay(50, ct);
        }
    }

    public static JsonObject CardOf(JsonObject activity) => activity["attachments"]![0]!["content"]!.AsObject();

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Microsoft.DisposeAsync();
    }
}
