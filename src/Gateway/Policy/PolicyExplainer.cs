using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Mcp;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>
/// Says how the policy in effect would decide a call, with the trace of every rule it looked at: the library call
/// behind <c>POST /api/policy/explain</c> (and the CLI). Counts nothing against rate limits and runs nothing.
/// </summary>
internal sealed class PolicyExplainer(ProxyViews views)
{
    public const string Order = "Rules are evaluated top to bottom. Rate-limit rules refuse over their limit and otherwise let evaluation continue; "
        + "rules in detect mode record what they would decide and let evaluation continue; the first other matching rule decides; "
        + "when none matches, the default decides.";

    /// <summary>The explanation, or an error naming the agent or tool that was not found.</summary>
    public ExplainOutcome Explain(string agentId, string toolName, IDictionary<string, JsonElement>? arguments, string? bundle = null)
    {
        var snapshot = views.Config.Current;
        if (snapshot.Config.Agents.GetValueOrDefault(agentId) is not { } agent)
        {
            return ExplainOutcome.NotFound($"There is no agent '{agentId}'.");
        }

        if (bundle is not null && !ProxyView.BundlesFor(snapshot.Config, agent, bundle).Any())
        {
            return ExplainOutcome.NotFound($"Agent '{agentId}' is not a member of bundle '{bundle}'.");
        }

        var policy = snapshot.Policy;
        PolicyCall call;
        bool inCatalog;
        if (views.Get(agent, bundle).FindTool(toolName) is { } tool)
        {
            inCatalog = true;
            call = new PolicyCall
            {
                Agent = agent,
                Bundle = tool.Bundle,
                Upstream = tool.Upstream,
                ToolName = policy.ToolName(tool.Upstream, tool.LocalName),
                Annotations = tool.Item.Annotations,
                ConfiguredIdempotent = Glob.AnyMatch(snapshot.Config.Upstreams[tool.Upstream].IdempotentTools, tool.LocalName),
                Arguments = arguments,
            };
        }
        else if (Offline(snapshot.Config, agent, bundle, toolName) is { } offline)
        {
            // The upstream is down or has not listed yet: policy can still be explained, without the tool's annotations.
            inCatalog = false;
            call = offline with { Arguments = arguments };
        }
        else
        {
            return ExplainOutcome.NotFound($"Agent '{agentId}' has no tool '{toolName}'{(bundle is null ? "" : $" in bundle '{bundle}'")}; write the name as the agent sees it, e.g. fs{snapshot.Config.Server.ToolSeparator}read_file.");
        }

        return new ExplainOutcome { Call = call, InCatalog = inCatalog, Decision = policy.Explain(call) };
    }

    private static PolicyCall? Offline(GatewayConfig config, AgentConfig agent, string? bundle, string toolName)
    {
        var separator = config.Server.ToolSeparator;
        var split = toolName.IndexOf(separator, StringComparison.Ordinal);
        if (split <= 0)
        {
            return null;
        }

        var upstream = toolName[..split];
        var member = ProxyView.BundlesFor(config, agent, bundle).FirstOrDefault(b => b.Namespaced && b.Upstreams.Contains(upstream, StringComparer.Ordinal));
        return member is null
            ? null
            : new PolicyCall { Agent = agent, Bundle = member.Name, Upstream = upstream, ToolName = toolName };
    }
}

public sealed record ExplainOutcome
{
    public string? Error { get; init; }

    public PolicyCall? Call { get; init; }

    /// <summary>Whether the tool was in its upstream's current catalog; if not, its annotations were unknown (MCP defaults applied).</summary>
    public bool InCatalog { get; init; }

    public PolicyDecision? Decision { get; init; }

    public static ExplainOutcome NotFound(string error) => new() { Error = error };
}

/// <summary>The JSON body of an explanation; field names are stable.</summary>
public sealed record ExplainResponse(
    string Decision,
    string Rule,
    string? Reason,
    ExplainShadow? Shadow,
    ExplainApproval? Approval,
    double? RetryAfterSeconds,
    ExplainTool Tool,
    string Order,
    IReadOnlyList<TraceStep> Trace)
{
    public static ExplainResponse From(ExplainOutcome outcome)
    {
        var decision = outcome.Decision!;
        var call = outcome.Call!;
        return new ExplainResponse(
            PolicyDecision.ActionName(decision.Action),
            decision.RuleName,
            decision.Reason,
            decision.Shadow is { } shadow ? new ExplainShadow(PolicyDecision.ActionName(shadow.Action), shadow.Rule, shadow.Reason) : null,
            decision.Approval is { } approval
                ? new ExplainApproval(approval.Approvers, approval.Quorum, Durations.Format(approval.Timeout), approval.OnTimeout == OnTimeout.Escalate ? "escalate" : "deny",
                    approval.Escalation?.Approvers, approval.Escalation is { } escalation ? Durations.Format(escalation.Timeout) : null, Durations.Format(approval.Hold), approval.AllowEdits)
                : null,
            decision.RetryAfter?.TotalSeconds,
            new ExplainTool(call.ToolName, call.Bundle, call.Upstream, outcome.InCatalog, call.Annotations),
            PolicyExplainer.Order,
            decision.Trace);
    }
}

public sealed record ExplainShadow(string Decision, string Rule, string? Reason);

public sealed record ExplainApproval(
    IReadOnlyList<string> Approvers, int Quorum, string Timeout, string OnTimeout, IReadOnlyList<string>? EscalateTo, string? EscalationTimeout, string Hold, bool AllowEdits);

public sealed record ExplainTool(string Name, string Bundle, string Upstream, bool InCatalog, ToolAnnotations? Annotations);
