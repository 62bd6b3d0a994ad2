using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Teams;
using ApprovalEngine.Gateway.Tests.Mcp;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace ApprovalEngine.Gateway.Tests.Teams;

public sealed class TeamsAuthenticationTests(TeamsGateway teams) : IClassFixture<TeamsGateway>
{
    // RSA key generation is slow; made once, so the theory does not load the CPU that timing-sensitive tests share.
    private static readonly RsaSecurityKey Unendorsed = FakeMicrosoft.NewKey("key-skype-only");
    private static readonly RsaSecurityKey Impostor = FakeMicrosoft.NewKey("key-1");

    public static TheoryData<string> BadTokens => ["wrong audience", "wrong issuer", "expired", "bad signature", "missing endorsement", "service url mismatch", "no token", "not a jwt"];

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Messages_BadToken_Is401AndStoresNothing(string spoiled)
    {
        var m = teams.Microsoft;
        m.Publish(Unendorsed, "skype");
        var token = spoiled switch
        {
            "wrong audience" => m.Token(audience: "someone-else"),
            "wrong issuer" => m.Token(issuer: "https://sts.windows.net/evil/"),
            "expired" => m.Token(notBefore: DateTime.UtcNow.AddHours(-2), expires: DateTime.UtcNow.AddMinutes(-10)),
            "bad signature" => m.Token(key: Impostor),
            "missing endorsement" => m.Token(key: Unendorsed),
            "service url mismatch" => m.Token(serviceUrl: "https://smba.trafficmanager.net/evil/"),
            "not a jwt" => "not-a-jwt",
            _ => null,
        };
        var conversation = "19:" + Guid.NewGuid().ToString("N") + "@thread.tacv2";

        using var response = await teams.SendAsync(teams.ChannelInstall(conversation), token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.False(await StoredAsync(conversation));
    }

    [Fact]
    public async Task Messages_ValidToken_StoresTheConversationReference()
    {
        var conversation = "19:" + Guid.NewGuid().ToString("N") + "@thread.tacv2";

        using var response = await teams.SendAsync(teams.ChannelInstall(conversation), teams.Microsoft.Token());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(await StoredAsync(conversation));
    }

    [Fact]
    public async Task Messages_TokenExpiredWithinTheFiveMinuteSkew_IsAccepted()
    {
        var token = teams.Microsoft.Token(notBefore: DateTime.UtcNow.AddHours(-1), expires: DateTime.UtcNow.AddMinutes(-3));

        using var response = await teams.SendAsync(teams.ChannelInstall("19:" + Guid.NewGuid().ToString("N") + "@thread.tacv2"), token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Messages_UnknownKid_RefetchesTheKeysAndAcceptsTheRotatedKey()
    {
        var warm = await teams.SendAsync(teams.ChannelInstall("19:warm@thread.tacv2"), teams.Microsoft.Token());
        warm.Dispose();
        var before = teams.Microsoft.KeyFetches;
        var rotated = FakeMicrosoft.NewKey("rotated-" + Guid.NewGuid().ToString("N")[..6]);
        teams.Microsoft.Publish(rotated, "msteams");

        using var response = await teams.SendAsync(teams.ChannelInstall("19:" + Guid.NewGuid().ToString("N") + "@thread.tacv2"), teams.Microsoft.Token(key: rotated));
        var afterRotation = teams.Microsoft.KeyFetches;
        using var again = await teams.SendAsync(teams.ChannelInstall("19:" + Guid.NewGuid().ToString("N") + "@thread.tacv2"), teams.Microsoft.Token(key: rotated));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(before + 1, afterRotation);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(afterRotation, teams.Microsoft.KeyFetches);
    }

    [Fact]
    public async Task DevelopmentMode_RefusesRequestsThatAreNotDirectlyFromLoopback()
    {
        await using var gateway = await McpGateway.StartAsync($$"""
            upstreams: {}
            teams: {}
            """);
        var endpoint = gateway.Get<TeamsMessagesEndpoint>();
        var remoteConversation = "19:remote@thread.tacv2";

        var remote = Context(IPAddress.Parse("203.0.113.7"), teams.ChannelInstall(remoteConversation));
        await endpoint.HandleAsync(remote);
        var proxied = Context(IPAddress.Loopback, teams.ChannelInstall("19:proxied@thread.tacv2"));
        proxied.Request.Headers["X-Forwarded-For"] = "203.0.113.7";
        await endpoint.HandleAsync(proxied);
        using var client = gateway.CreateHttpClient();
        using var local = await client.PostAsync("api/messages", new StringContent(teams.ChannelInstall("19:local@thread.tacv2").ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.Equal(StatusCodes.Status403Forbidden, remote.Response.StatusCode);
        Assert.Equal(StatusCodes.Status403Forbidden, proxied.Response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, local.StatusCode);
        Assert.False(await StoredAsync(gateway.ConnectionString, remoteConversation));
        Assert.False(await StoredAsync(gateway.ConnectionString, "19:proxied@thread.tacv2"));
        Assert.True(await StoredAsync(gateway.ConnectionString, "19:local@thread.tacv2"));
    }

    private static DefaultHttpContext Context(IPAddress remote, JsonObject activity)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = remote;
        context.Request.Method = "POST";
        context.Request.ContentType = "application/json";
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(activity.ToJsonString()));
        context.Response.Body = new MemoryStream();
        return context;
    }

    private Task<bool> StoredAsync(string conversation) => StoredAsync(teams.Gateway.ConnectionString, conversation);

    private static async Task<bool> StoredAsync(string connectionString, string conversation)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM teams_conversation WHERE conversation_id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = conversation });
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }
}
