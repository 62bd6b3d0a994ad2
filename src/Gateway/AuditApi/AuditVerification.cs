using System.ComponentModel;
using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Verification;
using ApprovalEngine.Workflows.Runtime;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ApprovalEngine.Gateway.AuditApi;

/// <summary><c>POST /api/audit/verify</c>: the checks of the <c>verify</c> command (<see cref="ChainCheck"/>), over a range, as JSON.</summary>
internal static partial class AuditVerification
{
    /// <summary>Broken chains listed per kind; the counts are always complete.</summary>
    public const int MaxListed = 100;

    public static async Task<IResult> VerifyAsync(
        [AsParameters] VerifyParameters parameters, HttpContext context, WorkflowRuntime runtime, NpgsqlDataSource dataSource,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var query = new QueryReader();
        var (from, to) = query.Range(parameters.From, parameters.To);
        if (query.Problem is { } problem)
        {
            return problem;
        }

        var workflows = new List<BrokenWorkflow>();
        var streams = new List<BrokenStream>();
        var summary = await new ChainCheck(runtime, new ToolCallAuditVerifier(dataSource)).RunAsync(
            from,
            to,
            chain =>
            {
                if (!chain.Valid && workflows.Count < MaxListed)
                {
                    workflows.Add(new BrokenWorkflow(chain.WorkflowId, chain.FirstBadSeq, chain.Problem));
                }

                return ValueTask.CompletedTask;
            },
            stream =>
            {
                if (!stream.Valid && streams.Count < MaxListed)
                {
                    streams.Add(new BrokenStream(stream.StreamId, stream.Node, stream.ProblemCount, [.. stream.Problems.Select(ProblemView.From)]));
                }

                return ValueTask.CompletedTask;
            },
            cancellationToken);

        LogVerified(loggers.CreateLogger(typeof(AuditVerification)), context.GetHuman().Email, from, to, summary.Workflows, summary.BrokenWorkflows, summary.Records, summary.BrokenStreams);
        return TypedResults.Ok(new VerificationReport(
            summary.Valid,
            from,
            to,
            new WorkflowChecks(summary.Workflows, summary.BrokenWorkflows, workflows),
            new ToolCallChecks(summary.Records, summary.Streams, summary.BrokenStreams, streams)));
    }

    [LoggerMessage(3720, LogLevel.Information,
        "Audit verified for {Email} (from {From} to {To}): {Workflows} workflow chains, {BrokenWorkflows} broken; {Records} tool-call records, {BrokenStreams} broken streams")]
    private static partial void LogVerified(ILogger logger, string email, DateTimeOffset? from, DateTimeOffset? to, int workflows, int brokenWorkflows, long records, int brokenStreams);
}

/// <summary>The query of <c>POST /api/audit/verify</c>.</summary>
public sealed record VerifyParameters
{
    [FromQuery(Name = "from"), Description("First creation (approvals) or start (tool calls) time included (ISO 8601). Default: the beginning.")]
    public string? From { get; init; }

    [FromQuery(Name = "to"), Description("Time where the range ends, excluded. Without it, deletions of the newest tool-call records are detected too.")]
    public string? To { get; init; }
}

/// <param name="Valid">Every chain checked holds.</param>
public sealed record VerificationReport(bool Valid, DateTimeOffset? From, DateTimeOffset? To, WorkflowChecks Workflows, ToolCallChecks ToolCalls);

/// <param name="Checked">Approval workflows whose history chain was recomputed.</param>
/// <param name="Broken">The first 100 broken ones.</param>
public sealed record WorkflowChecks(int Checked, int BrokenCount, IReadOnlyList<BrokenWorkflow> Broken);

/// <param name="BrokenAt">The first event (seq) that does not verify.</param>
public sealed record BrokenWorkflow(Guid ApprovalId, int? BrokenAt, string? Problem);

/// <param name="Checked">Tool-call records whose chain hash was recomputed.</param>
/// <param name="Streams">Chain streams (one per gateway process start) those records belong to.</param>
/// <param name="Broken">The first 100 broken streams.</param>
public sealed record ToolCallChecks(long Checked, int Streams, int BrokenCount, IReadOnlyList<BrokenStream> Broken);

/// <param name="Node">The process that wrote the stream (host name and pid).</param>
/// <param name="Problems">The first problems found (up to 100 per stream).</param>
public sealed record BrokenStream(Guid StreamId, string? Node, int ProblemCount, IReadOnlyList<ProblemView> Problems);

/// <param name="Kind">modified, missing, unlinked or head_mismatch.</param>
public sealed record ProblemView(long Seq, long ThroughSeq, string Kind, string Detail)
{
    public static ProblemView From(AuditChainProblem problem) => new(problem.Seq, problem.ThroughSeq, problem.Kind switch
    {
        AuditProblemKind.Modified => "modified",
        AuditProblemKind.Missing => "missing",
        AuditProblemKind.Unlinked => "unlinked",
        _ => "head_mismatch",
    }, problem.Detail);
}
