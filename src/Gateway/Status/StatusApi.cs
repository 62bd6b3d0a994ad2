using ApprovalEngine.Gateway.Approvals;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Upstreams;
using Npgsql;

namespace ApprovalEngine.Gateway.Status;

/// <summary><c>GET /api/me</c> (who the token is) and <c>GET /api/status</c> (agents, upstreams, database): for any person.</summary>
public static partial class StatusApi
{
    private static readonly TimeSpan DatabaseTimeout = TimeSpan.FromSeconds(3);

    public static IEndpointRouteBuilder MapStatusApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api").WithTags("Status");
        api.MapGet("/me", (HttpContext context) => TypedResults.Ok(Me.Of(context.GetHuman())))
            .RequireHuman().WithSummary("The person the token belongs to, and their roles").Refusals();
        api.MapGet("/status", StatusAsync)
            .RequireHuman().WithSummary("The configured agents, the upstreams' state and the database's").Refusals();
        return endpoints;
    }

    private static async Task<Microsoft.AspNetCore.Http.HttpResults.Ok<GatewayStatus>> StatusAsync(
        LiveConfiguration config, IUpstreams upstreams, NpgsqlDataSource dataSource, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var snapshot = config.Current.Config;
        var catalog = upstreams.Catalog;
        var agents = snapshot.Agents.Values
            .OrderBy(a => a.Id, StringComparer.Ordinal)
            .Select(a => new AgentStatus(a.Id, a.Owner, a.Groups, [.. snapshot.Bundles.Values.Where(b => b.Admits(a)).Select(b => b.Name).Order(StringComparer.Ordinal)]))
            .ToList();
        var upstreamList = snapshot.Upstreams.Values
            .OrderBy(u => u.Name, StringComparer.Ordinal)
            .Select(u => catalog.Upstreams.TryGetValue(u.Name, out var entry)
                ? new UpstreamStatus(u.Name, Transport(u.Type), UpstreamStates.Name(entry.State), entry.Tools.Count, entry.LastError)
                : new UpstreamStatus(u.Name, Transport(u.Type), UpstreamStates.Name(UpstreamState.Connecting), 0, null))
            .ToList();
        var database = await CheckDatabaseAsync(dataSource, loggers.CreateLogger(typeof(StatusApi)), cancellationToken);
        return TypedResults.Ok(new GatewayStatus(agents, upstreamList, database));
    }

    private static string Transport(UpstreamType type) => type == UpstreamType.Stdio ? "stdio" : "http";

    private static async Task<string> CheckDatabaseAsync(NpgsqlDataSource dataSource, ILogger logger, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DatabaseTimeout);
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return "ok";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "unavailable";
        }
        catch (NpgsqlException e)
        {
            // The answer stays generic; the log has the details.
            LogDatabaseFailed(logger, e);
            return "unavailable";
        }
    }

    [LoggerMessage(3740, LogLevel.Warning, "GET /api/status: the database check failed")]
    private static partial void LogDatabaseFailed(ILogger logger, Exception exception);
}

/// <param name="Roles">approver, auditor, admin: each stands alone.</param>
public sealed record Me(string Email, IReadOnlyList<string> Roles)
{
    public static Me Of(Human human) => new(human.Email, [.. human.Roles.Select(RoleNames.Of)]);
}

/// <param name="Database">ok, or unavailable when it did not answer a query within 3 s.</param>
public sealed record GatewayStatus(IReadOnlyList<AgentStatus> Agents, IReadOnlyList<UpstreamStatus> Upstreams, string Database);

/// <param name="Bundles">The bundles the agent may use.</param>
public sealed record AgentStatus(string Id, string Owner, IReadOnlyList<string> Groups, IReadOnlyList<string> Bundles);

/// <param name="Transport">stdio or http.</param>
/// <param name="State">ready, starting (connecting or reconnecting) or failed (retrying after a backoff).</param>
/// <param name="Tools">Tools last listed.</param>
/// <param name="LastError">Why it is not ready (no secrets); null when ready.</param>
public sealed record UpstreamStatus(string Name, string Transport, string State, int Tools, string? LastError);
