using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Upstreams;
using ApprovalEngine.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Tests.Humans;

public sealed class HumanRefusalsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 9, 30, 0, TimeSpan.Zero);
    private readonly RecordingLoggerProvider logs = new();
    private readonly ILoggerFactory loggers;
    private readonly ServiceProvider services = new ServiceCollection().AddLogging().BuildServiceProvider();

    public HumanRefusalsTests() => loggers = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));

    public void Dispose()
    {
        loggers.Dispose();
        services.Dispose();
    }

    [Fact]
    public async Task RefuseAsync_MissingRole_TellsObserversAndAnswers403Problem()
    {
        var observer = new RecordingObserver();
        var context = Request("/api/settings");
        var human = new Human { Email = "alice@example.com", Roles = [Role.Approver] };

        var result = await Refusals(observer).RefuseAsync(context, RefusalReason.MissingRole, human, [Role.Admin]);
        var body = await ExecuteAsync(result, context);

        var refusal = Assert.Single(observer.Refusals);
        Assert.Equal(Now, refusal.At);
        Assert.Equal(403, refusal.Status);
        Assert.Equal("alice@example.com", refusal.Email);
        Assert.Equal("/api/settings", refusal.Path);
        Assert.Equal([Role.Admin], refusal.RequiredRoles);
        Assert.Equal(403, context.Response.StatusCode);
        Assert.Equal("application/problem+json", context.Response.ContentType);
        Assert.Equal("This needs the admin role; alice@example.com has: approver.", body["detail"]!.GetValue<string>());
        Assert.Equal("admin", body["requiredRoles"]![0]!.GetValue<string>());
        Assert.Contains(logs.Entries, entry => entry.Contains(" 3503: ", StringComparison.Ordinal) && entry.Contains("alice@example.com", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RefuseAsync_SeveralAcceptedRoles_NamesEveryOne()
    {
        var context = Request("/api/audit");
        var human = new Human { Email = "alice@example.com", Roles = [Role.Approver] };

        var body = await ExecuteAsync(await Refusals().RefuseAsync(context, RefusalReason.MissingRole, human, [Role.Auditor, Role.Admin]), context);

        Assert.Contains("one of the roles auditor, admin", body["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RefusalReason.NoToken, 3500, "Bearer realm=\"approval-engine\"")]
    [InlineData(RefusalReason.InvalidToken, 3501, "Bearer realm=\"approval-engine\", error=\"invalid_token\", error_description=\"The API token is not valid.\"")]
    [InlineData(RefusalReason.AgentKey, 3502, "Bearer realm=\"approval-engine\", error=\"invalid_token\", error_description=\"Agent API keys are not accepted here; use a user token.\"")]
    public async Task RefuseAsync_NobodyAuthenticated_Answers401WithChallengeAndLogsItsEvent(RefusalReason reason, int eventId, string challenge)
    {
        var context = Request("/api/approvals");

        await ExecuteAsync(await Refusals().RefuseAsync(context, reason, null, [Role.Approver]), context);

        Assert.Equal(401, context.Response.StatusCode);
        Assert.Equal(challenge, context.Response.Headers.WWWAuthenticate.ToString());
        Assert.Contains(logs.Entries, entry => entry.Contains($" {eventId}: Refused GET /api/approvals from 192.0.2.7", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RefuseAsync_ObserverThrows_StillRefusesAndLogsTheFailure()
    {
        var after = new RecordingObserver();
        var context = Request("/api/approvals");

        await ExecuteAsync(await Refusals(new ThrowingObserver(), after).RefuseAsync(context, RefusalReason.NoToken, null, [Role.Approver]), context);

        Assert.Equal(401, context.Response.StatusCode);
        Assert.Single(after.Refusals);
        Assert.Contains(logs.Entries, entry => entry.Contains(" 3504: ", StringComparison.Ordinal) && entry.Contains("audit store down", StringComparison.Ordinal));
    }

    private HumanRefusals Refusals(params IHumanRefusalObserver[] observers) =>
        new(observers, new ManualTimeProvider(Now), loggers.CreateLogger<HumanRefusals>());

    private DefaultHttpContext Request(string path)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = "GET";
        context.Request.Path = path;
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("192.0.2.7");
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static async Task<JsonObject> ExecuteAsync(IResult result, HttpContext context)
    {
        await result.ExecuteAsync(context);
        context.Response.Body.Position = 0;
        return (JsonNode.Parse(context.Response.Body) as JsonObject)!;
    }

    private sealed class RecordingObserver : IHumanRefusalObserver
    {
        public List<HumanRefusal> Refusals { get; } = [];

        public ValueTask OnRefusedAsync(HumanRefusal refusal, CancellationToken cancellationToken)
        {
            Refusals.Add(refusal);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class ThrowingObserver : IHumanRefusalObserver
    {
        public ValueTask OnRefusedAsync(HumanRefusal refusal, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("audit store down");
    }
}
