using ApprovalEngine.Gateway.Audit;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Gateway.Verification;

/// <summary>What one verification found, in counts.</summary>
public sealed record ChainCheckSummary(int Workflows, int BrokenWorkflows, int Streams, long Records, int BrokenStreams)
{
    public bool Valid => BrokenWorkflows == 0 && BrokenStreams == 0;
}

/// <summary>
/// The one implementation of "verify the audit": recomputes the history hash chain of every workflow created in
/// [from, to) and the tool-call audit chain streams over the calls started in that range (all when unbounded). The
/// <c>verify</c> command and <c>POST /api/audit/verify</c> both run it; each result is handed to the caller as it comes,
/// so neither holds more than one chain at a time.
/// </summary>
public sealed class ChainCheck(WorkflowRuntime runtime, ToolCallAuditVerifier audit)
{
    public async Task<ChainCheckSummary> RunAsync(
        DateTimeOffset? from, DateTimeOffset? to,
        Func<ChainVerification, ValueTask> onWorkflow, Func<AuditStreamVerification, ValueTask> onStream, CancellationToken cancellationToken)
    {
        int workflows = 0, brokenWorkflows = 0;
        await foreach (var chain in runtime.VerifyAllAsync(from, to, cancellationToken))
        {
            workflows++;
            brokenWorkflows += chain.Valid ? 0 : 1;
            await onWorkflow(chain);
        }

        int streams = 0, brokenStreams = 0;
        long records = 0;
        await foreach (var stream in audit.VerifyAsync(from, to, cancellationToken))
        {
            streams++;
            records += stream.Records;
            brokenStreams += stream.Valid ? 0 : 1;
            await onStream(stream);
        }

        return new ChainCheckSummary(workflows, brokenWorkflows, streams, records, brokenStreams);
    }
}
