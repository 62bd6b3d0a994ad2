using System.Diagnostics;
using ApprovalEngine.Activities;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Workflows.WorkerHost;

/// <summary>
/// Records that the call reached "the upstream" (a row in the test's test_invocation table), then never answers:
/// the test kills this process while the call is in flight.
/// </summary>
internal sealed class RecordingHangingInvoker(NpgsqlDataSource dataSource) : IToolInvoker
{
    private const string RecordSql = "INSERT INTO test_invocation (wf_id, attempt, pid) VALUES ($1, $2, $3)";

    public async Task<ActivityResult> InvokeAsync(ToolInvocation invocation, CancellationToken cancellationToken)
    {
        await using (var cmd = dataSource.CreateCommand(RecordSql))
        {
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = invocation.ApprovalId });
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = invocation.Attempt });
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Environment.ProcessId });
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }

        await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
        throw new UnreachableException("An infinite delay ended without cancellation.");
    }
}
