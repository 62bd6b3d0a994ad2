using System.Net;
using System.Text;
using System.Text.Json;
using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Mcp;

namespace ApprovalEngine.Gateway.Tests.Mcp;

/// <summary>
/// Each bad request is a <c>create_entities</c> call of the real server-memory that would add an entity if the gateway
/// let it through. It gets the documented HTTP status and JSON-RPC error, and afterwards the memory graph and the
/// tool-call audit are exactly as before (an unknown tool alone is audited, as rejected, by design).
/// </summary>
public sealed class BadInputChangesNothingTests(MemoryGateway memory) : IClassFixture<MemoryGateway>
{
    private const int ParseError = -32700;
    private const int InvalidRequest = -32600;
    private const int InvalidParams = -32602;
    private const int SessionNotFound = -32001;

    [Fact]
    public async Task Post_WellFormedCall_CreatesTheEntityAndOneAuditRecord()
    {
        // The control: the same call, sent properly, does change both; so "unchanged" below means refused.
        var session = await memory.StartSessionAsync();
        var auditBefore = await memory.AuditCountAsync();

        var answer = await memory.CallAsync(session, "memory__create_entities", MemoryGateway.NewEntity("control"));

        Assert.NotNull(answer["result"]);
        Assert.Equal(auditBefore + 1, await memory.AuditCountAsync());
        Assert.Contains("control", MemoryGateway.EntityNames(await memory.ReadGraphAsync()));
    }

    [Theory]
    [InlineData("malformed-json", HttpStatusCode.BadRequest, ParseError)]
    [InlineData("oversize-content-length", HttpStatusCode.RequestEntityTooLarge, InvalidRequest)]
    [InlineData("oversize-chunked", HttpStatusCode.RequestEntityTooLarge, InvalidRequest)]
    [InlineData("wrong-content-type", HttpStatusCode.UnsupportedMediaType, InvalidRequest)]
    [InlineData("wrong-accept", HttpStatusCode.NotAcceptable, InvalidRequest)]
    [InlineData("unknown-session", HttpStatusCode.NotFound, SessionNotFound)]
    [InlineData("evicted-session", HttpStatusCode.NotFound, SessionNotFound)]
    [InlineData("bad-key", HttpStatusCode.Unauthorized, InvalidRequest)]
    [InlineData("missing-key", HttpStatusCode.Unauthorized, InvalidRequest)]
    [InlineData("bundle-not-allowed", HttpStatusCode.Forbidden, InvalidRequest)]
    public async Task Post_BadInputThatWouldCreateAnEntity_RightErrorAndNothingChanges(string input, HttpStatusCode status, int code)
    {
        var entity = "bad-" + input;
        var session = await memory.StartSessionAsync();
        using var request = await BadRequestAsync(input, session, entity);
        var graphBefore = await memory.ReadGraphAsync();
        var auditBefore = await memory.AuditCountAsync();

        using var response = await memory.Client.SendAsync(request);
        var answer = await RawMcp.MessageAsync(response);
        var auditAfter = await memory.AuditCountAsync();
        var graphAfter = await memory.ReadGraphAsync();

        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode} {answer.ToJsonString()}");
        Assert.Equal(code, RawMcp.ErrorCode(answer));
        Assert.Null(answer["result"]);
        Assert.Equal(auditBefore, auditAfter);
        Assert.DoesNotContain(entity, MemoryGateway.EntityNames(graphAfter));
        Assert.Equal(graphBefore.GetRawText(), graphAfter.GetRawText());
    }

    [Fact]
    public async Task Post_UnknownTool_InvalidParamsOneRejectedRecordAndNothingCreated()
    {
        // The upstream's own name, not the namespaced one: the gateway must not pass it through.
        var session = await memory.StartSessionAsync();
        var graphBefore = await memory.ReadGraphAsync();
        var auditBefore = await memory.AuditCountAsync();
        var rejectedBefore = await memory.AuditCountAsync(ToolCallOutcome.Rejected, "create_entities");
        using var request = RawMcp.Post(memory.Gateway.Url("tools"), memory.AlphaKey, memory.ToolCall("create_entities", MemoryGateway.NewEntity("bad-unknown-tool")),
            session: session, protocolVersion: "2025-11-25");

        using var response = await memory.Client.SendAsync(request);
        var answer = await RawMcp.MessageAsync(response);
        var auditAfter = await memory.AuditCountAsync();
        var graphAfter = await memory.ReadGraphAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(InvalidParams, RawMcp.ErrorCode(answer));
        Assert.Contains("Unknown tool 'create_entities'", RawMcp.ErrorMessage(answer), StringComparison.Ordinal);
        Assert.Equal(auditBefore + 1, auditAfter);
        Assert.Equal(rejectedBefore + 1, await memory.AuditCountAsync(ToolCallOutcome.Rejected, "create_entities"));
        Assert.DoesNotContain("bad-unknown-tool", MemoryGateway.EntityNames(graphAfter));
        Assert.Equal(graphBefore.GetRawText(), graphAfter.GetRawText());
    }

    /// <summary>The create_entities call for <paramref name="entity"/>, spoiled in the way <paramref name="input"/> names.</summary>
    private async Task<HttpRequestMessage> BadRequestAsync(string input, string session, string entity)
    {
        var url = memory.Gateway.Url("tools");
        var key = memory.AlphaKey;
        var call = memory.ToolCall("memory__create_entities", MemoryGateway.NewEntity(entity));
        var oversize = memory.ToolCall("memory__create_entities", MemoryGateway.NewEntity(entity, (int)MemoryGateway.MaxRequestBodyBytes + 1024));
        HttpRequestMessage Post(string body, string? withKey, string? inSession, string accept = RawMcp.Accept, string contentType = "application/json") =>
            RawMcp.Post(url, withKey, body, accept, contentType, inSession, "2025-11-25");

        switch (input)
        {
            case "malformed-json":
                return Post(call[..^2], key, session);
            case "oversize-content-length":
                return Post(oversize, key, session);
            case "oversize-chunked":
                var chunked = Post("{}", key, session);
                chunked.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(oversize)));
                chunked.Content.Headers.ContentType = new("application/json");
                chunked.Headers.TransferEncodingChunked = true;
                return chunked;
            case "wrong-content-type":
                return Post(call, key, session, contentType: "text/plain");
            case "wrong-accept":
                return Post(call, key, session, accept: "application/json");
            case "unknown-session":
                return Post(call, key, AgentSession.NewId());
            case "evicted-session":
                await EvictAsync(session);
                return Post(call, key, session);
            case "bad-key":
                return Post(call, ApiKeys.Generate(), session);
            case "missing-key":
                return Post(call, null, session);
            case "bundle-not-allowed":
                return RawMcp.Post(memory.Gateway.Url("other"), key, call, session: session, protocolVersion: "2025-11-25");
            default:
                throw new ArgumentOutOfRangeException(nameof(input), input, "not a bad input this test knows");
        }
    }

    /// <summary>Lets the session go idle past the 30 minute default and sweeps, as the idle timer would.</summary>
    private async Task EvictAsync(string session)
    {
        var sessions = memory.Gateway.Get<AgentSessions>();
        memory.Clock.Advance(TimeSpan.FromMinutes(31));
        await sessions.SweepAsync();
        Assert.Null(sessions.Find(session));
    }
}
