using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Mcp;
using ApprovalEngine.Gateway.Tests.Upstreams;
using ApprovalEngine.Notifiers.OpenId;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Humans;

/// <summary>People's JWTs from an OpenID Connect identity provider (a real one on loopback), on the real gateway.</summary>
public sealed class OidcAuthenticationTests : IAsyncLifetime
{
    private readonly RecordingLoggerProvider logs = new();
    private FakeIdentityProvider idp = null!;
    private McpGateway gateway = null!;
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        idp = await FakeIdentityProvider.StartAsync();
        gateway = await McpGateway.StartAsync($$"""
            upstreams: {}
            users:
              carol@example.com:
                roles: [approver]
            oidc:
              issuer: {{idp.Issuer}}
              audience: {{FakeIdentityProvider.Audience}}
              rolesClaim: groups
              roleMap:
                ae-auditors: auditor
                ae-admins: admin
            """,
            services =>
            {
                services.AddSingleton<ILoggerProvider>(logs);
                services.AddSingleton(new OpenIdKeyOptions { MinimumRefreshInterval = TimeSpan.Zero });
                services.AddSingleton<IStartupFilter, TestEndpoints>();
            });
        client = gateway.CreateHttpClient();
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await gateway.DisposeAsync();
        await idp.DisposeAsync();
    }

    [Fact]
    public async Task Get_TokenForAConfiguredUser_GetsTheRolesOfTheUsersEntry()
    {
        using var response = await SendAsync("test-oidc/approver", idp.Token("Carol@Example.com"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("carol@example.com approver", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Get_TokenWithMappedGroups_GetsTheMappedRolesAndIgnoresUnknownGroups()
    {
        var token = idp.Token("dave@example.com", groups: ["ae-auditors", "ae-admins", "approver", "sales"]);

        using var auditor = await SendAsync("test-oidc/auditor", token);
        using var approver = await SendAsync("test-oidc/approver", token);

        Assert.Equal(HttpStatusCode.OK, auditor.StatusCode);
        Assert.Equal("dave@example.com auditor,admin", await auditor.Content.ReadAsStringAsync());

        // "approver" is not a key of roleMap: with a map, only mapped values count.
        Assert.Equal(HttpStatusCode.Forbidden, approver.StatusCode);
    }

    [Fact]
    public async Task Get_TokenOfAPersonWithoutRoles_IsAuthenticatedButRefusedTheRole()
    {
        var token = idp.Token("erin@example.com");

        using var me = await SendAsync("test-oidc/me", token);
        using var approver = await SendAsync("test-oidc/approver", token);

        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal("erin@example.com ", await me.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, approver.StatusCode);
    }

    [Theory]
    [InlineData("expired", "expired")]
    [InlineData("audience", "wrong audience")]
    [InlineData("issuer", "wrong issuer")]
    [InlineData("unpublished", "no signing key the identity provider publishes has id idp-key-9")]
    [InlineData("forged", "bad signature")]
    [InlineData("hmac", "bad signature")]
    [InlineData("no-email", "the token has no email address in its email claim")]
    [InlineData("unverified", "the identity provider says the email address is not verified")]
    public async Task Get_SpoiledToken_Answers401NamingTheProblemAndRecordsTheRefusal(string spoil, string problem)
    {
        var token = spoil switch
        {
            "expired" => idp.Token("carol@example.com", expires: DateTime.UtcNow.AddMinutes(-10)),
            "audience" => idp.Token("carol@example.com", audience: "another-app"),
            "issuer" => idp.Token("carol@example.com", issuer: idp.Issuer + "-other"),
            "unpublished" => idp.Token("carol@example.com", key: FakeIdentityProvider.NewKey("idp-key-9")),

            // Signed by another key that claims the published key's id.
            "forged" => idp.Token("carol@example.com", key: FakeIdentityProvider.NewKey(idp.SigningKey.KeyId!)),

            // An HMAC over the published key's id: what an attacker who read the JWKS could make.
            "hmac" => idp.Token("carol@example.com", key: new SymmetricSecurityKey(Encoding.UTF8.GetBytes(new string('k', 64))) { KeyId = idp.SigningKey.KeyId },
                algorithm: SecurityAlgorithms.HmacSha256),
            "no-email" => idp.Token(null),
            _ => idp.Token("carol@example.com", emailVerified: false),
        };

        using var response = await SendAsync("test-oidc/approver", token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal($"The identity provider's token was refused: {problem}.", body["detail"]!.GetValue<string>());
        Assert.Contains(logs.Entries, entry => entry.Contains(" 3506: ", StringComparison.Ordinal) && entry.Contains(problem, StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, entry => entry.Contains(token, StringComparison.Ordinal));
        Assert.Equal(problem, await LastRefusalDetailAsync());
    }

    [Fact]
    public async Task Get_TokenSignedByARotatedInKey_RefetchesTheKeysAndAdmits()
    {
        using (var first = await SendAsync("test-oidc/approver", idp.Token("carol@example.com")))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var fetches = idp.KeyFetches;
        var rotated = FakeIdentityProvider.NewKey("idp-key-2");
        idp.Publish(rotated);

        using var response = await SendAsync("test-oidc/approver", idp.Token("carol@example.com", key: rotated));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(fetches + 1, idp.KeyFetches);
    }

    [Fact]
    public async Task Get_IdentityProviderDown_FailsClosedWith401()
    {
        idp.Unavailable = true;

        using var response = await SendAsync("test-oidc/approver", idp.Token("carol@example.com"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var detail = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>();
        Assert.StartsWith("The identity provider's token was refused: the identity provider's signing keys could not be fetched from " + idp.Issuer, detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_UserApiTokenStillWorks_AlongsideOidc()
    {
        using var response = await SendAsync("test-oidc/me", "ae_user_" + new string('x', 43));

        // Not a JWT, and no user has it: the API-token path answers, without asking the identity provider.
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("matches no user", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, idp.KeyFetches);
    }

    private async Task<HttpResponseMessage> SendAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request);
    }

    private async Task<string?> LastRefusalDetailAsync()
    {
        await using var connection = new NpgsqlConnection(gateway.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT reason, detail FROM human_refusal ORDER BY id DESC LIMIT 1", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("invalid_token", reader.GetString(0));
        return reader.IsDBNull(1) ? null : reader.GetString(1);
    }

    private sealed class TestEndpoints : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Map("/test-oidc", branch =>
            {
                branch.UseRouting();
                branch.UseEndpoints(endpoints =>
                {
                    endpoints.MapGet("/me", (HttpContext context) => Describe(context.GetHuman())).RequireHuman();
                    endpoints.MapGet("/approver", (HttpContext context) => Describe(context.GetHuman())).RequireRole(Role.Approver);
                    endpoints.MapGet("/auditor", (HttpContext context) => Describe(context.GetHuman())).RequireRole(Role.Auditor);
                });
            });
            next(app);
        };

        private static string Describe(Human human) => $"{human.Email} {string.Join(',', human.Roles.Select(RoleNames.Of))}";
    }
}
