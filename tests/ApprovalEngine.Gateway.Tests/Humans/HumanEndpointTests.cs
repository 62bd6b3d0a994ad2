using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Gateway.Tests.Upstreams;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Humans;

/// <summary>The real gateway on a loopback port, with test-only endpoints under <c>/test-humans</c> behind the role filter.</summary>
public sealed class HumanEndpointTests : IAsyncLifetime
{
    private readonly string alice = UserTokens.Generate();
    private readonly string root = UserTokens.Generate();
    private readonly RecordingLoggerProvider logs = new();
    private readonly RecordingObserver observer = new();
    private McpGateway gateway = null!;
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        gateway = await StartAsync(Config(UserTokens.Hash(alice)), logs, observer);
        client = gateway.CreateHttpClient();
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await gateway.DisposeAsync();
    }

    [Fact]
    public async Task Get_NoAuthorizationHeader_Answers401WithBareBearerChallenge()
    {
        using var response = await client.GetAsync("test-humans/approvals");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer realm=\"approval-engine\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(logs.Entries, entry => entry.Contains(" 3500: Refused GET /test-humans/approvals", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Get_WrongToken_Answers401InvalidTokenWithoutEchoingOrLoggingIt()
    {
        var wrong = UserTokens.Generate();

        using var response = await client.SendAsync(Get("test-humans/approvals", wrong));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains(logs.Entries, entry => entry.Contains(" 3501: ", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, entry => entry.Contains(wrong, StringComparison.Ordinal));
        Assert.Contains(observer.Refusals, refusal => refusal.Reason == RefusalReason.InvalidToken && refusal.Path == "/test-humans/approvals");
    }

    [Fact]
    public async Task Get_ValidAgentKey_Answers401BecauseAgentsAreNotPeople()
    {
        var key = gateway.KeyOf("bot");

        using var response = await client.SendAsync(Get("test-humans/approvals", key));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("agent API key", body, StringComparison.Ordinal);
        Assert.DoesNotContain(key, body, StringComparison.Ordinal);
        Assert.Contains(logs.Entries, entry => entry.Contains(" 3502: ", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, entry => entry.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Get_ValidTokenWithoutTheRole_Answers403ProblemNamingTheRole()
    {
        using var response = await client.SendAsync(Get("test-humans/admin", alice));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Empty(response.Headers.WwwAuthenticate);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var body = JsonNode.Parse(text)!;
        Assert.Equal(403, body["status"]!.GetValue<int>());
        Assert.Equal("This needs the admin role; alice@example.com has: approver.", body["detail"]!.GetValue<string>());
        Assert.DoesNotContain(alice, text, StringComparison.Ordinal);
        Assert.Contains(logs.Entries, entry => entry.Contains(" 3503: Refused GET /test-humans/admin to alice@example.com", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, entry => entry.Contains(alice, StringComparison.Ordinal));
        Assert.Contains(observer.Refusals, refusal => refusal is { Reason: RefusalReason.MissingRole, Email: "alice@example.com" });
    }

    [Fact]
    public async Task Get_Refused_IsRecordedInHumanRefusalWithoutTheToken()
    {
        var wrong = UserTokens.Generate();
        using (await client.SendAsync(Get("test-humans/admin?x=1", alice)))
        using (await client.SendAsync(Get("test-humans/approvals", wrong)))
        {
        }

        await using var connection = new NpgsqlConnection(gateway.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT reason, status, method, path, email, required_roles, detail FROM human_refusal ORDER BY id", connection);
        var rows = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add(string.Join('|', reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3),
                    reader.IsDBNull(4) ? "-" : reader.GetString(4), string.Join(',', reader.GetFieldValue<string[]>(5)), reader.IsDBNull(6) ? "-" : reader.GetString(6)));
            }
        }

        Assert.Contains("missing_role|403|GET|/test-humans/admin|alice@example.com|admin|-", rows);
        Assert.Contains("invalid_token|401|GET|/test-humans/approvals|-|approver|-", rows);
        Assert.DoesNotContain(rows, row => row.Contains(wrong, StringComparison.Ordinal) || row.Contains(alice, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Get_ValidTokenWithTheRole_Answers200AndTheHandlerSeesTheEmail()
    {
        using var approver = await client.SendAsync(Get("test-humans/approvals", alice));
        using var admin = await client.SendAsync(Get("test-humans/admin", root));

        Assert.Equal(HttpStatusCode.OK, approver.StatusCode);
        Assert.Equal("alice@example.com approver", await approver.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Equal("root@example.com auditor,admin", await admin.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Get_GroupForAnyPersonWithAnAdminEndpoint_AdmitsByRole()
    {
        using var me = await client.SendAsync(Get("test-humans/team/me", alice));
        using var settings = await client.SendAsync(Get("test-humans/team/settings", alice));
        using var anonymous = await client.GetAsync("test-humans/team/me");
        using var admin = await client.SendAsync(Get("test-humans/team/settings", root));

        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal("alice@example.com approver", await me.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, settings.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Single(observer.Refusals, refusal => refusal.Path == "/test-humans/team/settings");
    }

    [Fact]
    public async Task Get_TokenRotatedOutByAReload_StopsWorkingAndTheNewOneWorks()
    {
        var fresh = UserTokens.Generate();
        using (var before = await client.SendAsync(Get("test-humans/approvals", alice)))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        var keys = new Dictionary<string, string> { ["bot"] = gateway.KeyOf("bot") };
        await File.WriteAllTextAsync(gateway.ConfigPath, McpGateway.WithKeys(Config(UserTokens.Hash(fresh)), keys));
        await WaitUntilAsync(() => gateway.Get<LiveConfiguration>().Current.Config.Users["alice@example.com"].Tokens.Contains(UserTokens.Hash(fresh)));

        using var old = await client.SendAsync(Get("test-humans/approvals", alice));
        using var renewed = await client.SendAsync(Get("test-humans/approvals", fresh));
        Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        Assert.Contains("error=\"invalid_token\"", old.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, renewed.StatusCode);
    }

    private string Config(string aliceHash) => $"""
        upstreams: {"{}"}
        agents:
          bot:
            owner: alice@example.com
            keys: ["{"{key:bot}"}"]
        users:
          alice@example.com:
            roles: [approver]
            tokens: [{aliceHash}]
          root@example.com:
            roles: [auditor, admin]
            tokens: [{UserTokens.Hash(root)}]
        """;

    private static Task<McpGateway> StartAsync(string yaml, RecordingLoggerProvider logs, RecordingObserver observer) =>
        McpGateway.StartAsync(yaml, services =>
        {
            services.AddSingleton<ILoggerProvider>(logs);
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHumanRefusalObserver>(observer));
            services.AddSingleton<IStartupFilter, TestEndpoints>();
        });

    private static HttpRequestMessage Get(string path, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(50, timeout.Token);
        }
    }

    /// <summary>Endpoints that exist only in these tests, mapped in a branch of the real gateway's pipeline.</summary>
    private sealed class TestEndpoints : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Map("/test-humans", branch =>
            {
                branch.UseRouting();
                branch.UseEndpoints(endpoints =>
                {
                    endpoints.MapGet("/approvals", (HttpContext context) => Describe(context.GetHuman())).RequireRole(Role.Approver);
                    endpoints.MapGet("/admin", (HttpContext context) => Describe(context.GetHuman())).RequireRole(Role.Admin);
                    var team = endpoints.MapGroup("/team").RequireHuman();
                    team.MapGet("/me", (HttpContext context) => Describe(context.GetHuman()));
                    team.MapGet("/settings", (HttpContext context) => Describe(context.GetHuman())).RequireRole(Role.Admin);
                });
            });
            next(app);
        };

        private static string Describe(Human human) => $"{human.Email} {string.Join(',', human.Roles.Select(RoleNames.Of))}";
    }

    private sealed class RecordingObserver : IHumanRefusalObserver
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<HumanRefusal> refusals = new();

        public IEnumerable<HumanRefusal> Refusals => refusals;

        public ValueTask OnRefusedAsync(HumanRefusal refusal, CancellationToken cancellationToken)
        {
            refusals.Enqueue(refusal);
            return ValueTask.CompletedTask;
        }
    }
}
