using System.ComponentModel;
using System.Data;
using System.Text;
using ApprovalEngine.Gateway.Humans;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ApprovalEngine.Gateway.AuditApi;

/// <summary>
/// <c>GET /api/audit/export</c>: every audit event in [from, to) as NDJSON, in time order, one self-describing object
/// per line with stable snake_case names (the README lists them). Memory stays flat however many events there are:
/// PostgreSQL builds each line and merges the kinds in time order from their indexes, the rows stream from one reader,
/// and lines are written and flushed as they come.
/// </summary>
internal sealed partial class AuditExport(NpgsqlDataSource dataSource, ILogger<AuditExport> logger)
{
    public const string ContentType = "application/x-ndjson";

    public const string ToolCall = "tool_call";
    public const string WorkflowEvent = "workflow_event";
    public const string Refusal = "refusal";

    private const int FlushEvery = 1000;

    private static readonly string[] Kinds = [ToolCall, WorkflowEvent, Refusal];

    public async Task RunAsync(HttpContext context, ExportParameters parameters)
    {
        var human = context.GetHuman();
        var query = new QueryReader();
        var (from, to) = query.Range(parameters.From, parameters.To);
        var kinds = ParseKinds(query, parameters.Kinds);
        if (query.Problem is { } problem)
        {
            await problem.ExecuteAsync(context);
            return;
        }

        var ct = context.RequestAborted;
        var response = context.Response;
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-store";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        LogStarted(human.Email, from, to, string.Join(",", kinds));

        long lines = 0;
        try
        {
            await using var command = dataSource.CreateCommand(ExportSql.Build(kinds, from is not null, to is not null));
            command.CommandTimeout = 0;
            if (from is { } start)
            {
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = start.ToUniversalTime() });
            }

            if (to is { } end)
            {
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = end.ToUniversalTime() });
            }

            await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct);
            await using var writer = new StreamWriter(response.Body, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 16 * 1024, leaveOpen: true);
            while (await reader.ReadAsync(ct))
            {
                await writer.WriteAsync(reader.GetString(0));
                await writer.WriteAsync('\n');
                if (++lines % FlushEvery == 0)
                {
                    await writer.FlushAsync(ct);
                }
            }

            await writer.FlushAsync(ct);
            LogFinished(human.Email, lines);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            LogAbandoned(human.Email, lines);
        }
        catch (Exception e) when (e is NpgsqlException or IOException && !ct.IsCancellationRequested)
        {
            LogFailed(human.Email, lines, e);
            if (!response.HasStarted)
            {
                await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable",
                    detail: "The audit could not be read from the database; try again.").ExecuteAsync(context);
                return;
            }

            // The status line is long gone: cut the connection, so the client sees a failed transfer and never takes a
            // truncated export for a whole one.
            context.Abort();
        }
    }

    private static IReadOnlyList<string> ParseKinds(QueryReader query, string? value)
    {
        if (value is null)
        {
            return Kinds;
        }

        var kinds = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (kinds.Length == 0 || kinds.FirstOrDefault(k => !Kinds.Contains(k, StringComparer.Ordinal)) is { } unknown)
        {
            query.Fail("kinds", $"'{value}' is not a comma-separated list of {string.Join(", ", Kinds)}.");
            return Kinds;
        }

        return [.. Kinds.Where(kinds.Contains)];
    }

    [LoggerMessage(3710, LogLevel.Information, "Audit export for {Email} started: from {From} to {To}, kinds {Kinds}")]
    private partial void LogStarted(string email, DateTimeOffset? from, DateTimeOffset? to, string kinds);

    [LoggerMessage(3711, LogLevel.Information, "Audit export for {Email} finished: {Lines} events")]
    private partial void LogFinished(string email, long lines);

    [LoggerMessage(3712, LogLevel.Information, "Audit export for {Email} ended by the client after {Lines} events")]
    private partial void LogAbandoned(string email, long lines);

    [LoggerMessage(3713, LogLevel.Error, "Audit export for {Email} failed after {Lines} events; the client was told (or its connection cut, so it sees an incomplete transfer)")]
    private partial void LogFailed(string email, long lines, Exception exception);
}

/// <summary>The query of <c>GET /api/audit/export</c>.</summary>
public sealed record ExportParameters
{
    [FromQuery(Name = "from"), Description("First event time included (ISO 8601; UTC unless it has an offset). Default: the first event.")]
    public string? From { get; init; }

    [FromQuery(Name = "to"), Description("Event time where the range ends, excluded. Default: now and beyond.")]
    public string? To { get; init; }

    [FromQuery(Name = "kinds"), Description("Comma-separated: tool_call, workflow_event, refusal (default all).")]
    public string? Kinds { get; init; }
}
