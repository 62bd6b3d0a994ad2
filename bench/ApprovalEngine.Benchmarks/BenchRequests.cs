using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;

namespace ApprovalEngine.Benchmarks;

/// <summary>A typical single-approver request and its approval, as the gateway would send them.</summary>
public static class BenchRequests
{
    public const string Approver = "alice@example.com";

    private const string Arguments = """{"path":"/srv/app/config.yaml","content":"replicas: 3\n"}""";

    public static ApprovalRequest Request { get; } = new()
    {
        AgentId = "bench-agent",
        AgentOwner = "owner@example.com",
        Bundle = "default",
        Upstream = "filesystem",
        Tool = "write_file",
        Arguments = JsonDocument.Parse(Arguments).RootElement.Clone(),
        ArgumentsDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Arguments))),
        Rule = "writes-need-approval",
        Reason = "writes change files",
        Approvers = new ApproverStage { Group = "ops", Approvers = [Approver, "bob@example.com"], Timeout = TimeSpan.FromHours(1) },
        Quorum = 1,
    };

    public static SignalRequest Approve(string idempotencyKey) => new(SignalNames.Approve, idempotencyKey, Approver);

    /// <summary>A benchmark that measures refused work measures nothing: stop loudly instead.</summary>
    public static void EnsureAccepted(SignalOutcome outcome, Guid workflowId)
    {
        if (!outcome.Accepted)
        {
            throw new InvalidOperationException($"Approving workflow {workflowId} was refused ({outcome.Error}): {outcome.Message}");
        }
    }
}
