using System.Text;

namespace ApprovalEngine.Gateway.AuditApi;

/// <summary>
/// The export's one query: each kind of event is read in time order from its index and turned into its JSON line by
/// PostgreSQL, and the kinds are merged by time (a Merge Append: no sort of the whole range, first rows at once).
/// Events at the same microsecond come in an unspecified order.
/// </summary>
internal static class ExportSql
{
    // Times as UTC with microseconds, whatever the session's time zone.
    private static string Time(string column) => $"""to_char(({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""";

    private static readonly string ToolCalls = $"""
        SELECT t.at, json_build_object(
            'event_type', 'tool_call', 'event_id', t.id, 'at', {Time("t.at")},
            'completed_at', {Time("t.at + t.duration_us * interval '1 microsecond'")}, 'duration_ms', round(t.duration_us / 1000.0, 3),
            'agent_id', t.agent_id, 'bundle', t.bundle, 'upstream', t.upstream, 'tool', t.tool, 'tool_name', t.tool_name,
            'decision', t.decision, 'rule', t.rule, 'shadow_decision', t.shadow_decision, 'shadow_rule', t.shadow_rule,
            'approval_id', t.approval_id, 'outcome', t.outcome, 'error', t.error,
            'arguments_digest', t.arguments_digest, 'executed_arguments_digest', t.executed_arguments_digest, 'arguments', t.arguments,
            'session_id', t.session_id, 'request_id', t.request_id,
            'stream_id', t.stream_id, 'seq', t.seq, 'hash', encode(t.hash, 'hex'), 'prev_hash', encode(t.prev_hash, 'hex'))::text
        FROM tool_call_audit t WHERE [[range:t.at]]
        ORDER BY t.at, t.id
        """;

    private static readonly string WorkflowEvents = $"""
        SELECT e.recorded_at, json_build_object(
            'event_type', 'workflow_event', 'event_id', e.wf_id || ':' || e.seq, 'at', {Time("e.recorded_at")},
            'approval_id', e.wf_id, 'seq', e.seq, 'type', e.type, 'actor', e.actor,
            'agent_id', i.agent_id, 'bundle', i.bundle, 'upstream', i.upstream, 'tool', i.tool,
            'body', e.body::json, 'hash', encode(e.hash, 'hex'), 'prev_hash', encode(e.prev_hash, 'hex'))::text
        FROM wf_event e JOIN wf_instance i ON i.id = e.wf_id WHERE [[range:e.recorded_at]]
        ORDER BY e.recorded_at, e.wf_id, e.seq
        """;

    // Every refusal line has the same fields whatever its channel; those a channel does not have are null.
    private static string RefusalLine(string channel, string id, string at, string reason, string email, string approvalId, string detail,
        string status, string method, string path, string remote, string roles, string action, string userId, string teamId, string aadObjectId) => $"""
        json_build_object(
            'event_type', 'refusal', 'event_id', '{channel}:' || {id}, 'at', {Time(at)}, 'channel', '{channel}',
            'reason', {reason}, 'email', {email}, 'approval_id', {approvalId}, 'detail', {detail},
            'status', {status}, 'method', {method}, 'path', {path}, 'remote_address', {remote}, 'required_roles', {roles},
            'action', {action}, 'user_id', {userId}, 'team_id', {teamId}, 'aad_object_id', {aadObjectId})::text
        """;

    private static readonly string ApiRefusals = $"""
        SELECT r.at, {RefusalLine("api", "r.id", "r.at", "r.reason", "r.email", "NULL::uuid", "r.detail", "r.status", "r.method", "r.path",
            "r.remote_address", "r.required_roles", "NULL::text", "NULL::text", "NULL::text", "NULL::text")}
        FROM human_refusal r WHERE [[range:r.at]]
        ORDER BY r.at, r.id
        """;

    private static readonly string SlackRefusals = $"""
        SELECT s.at, {RefusalLine("slack", "s.id", "s.at", "s.reason", "s.email", "s.approval_id", "NULL::text", "NULL::int", "NULL::text", "NULL::text",
            "NULL::text", "NULL::text[]", "s.action", "s.user_id", "s.team_id", "NULL::text")}
        FROM slack_refusal s WHERE [[range:s.at]]
        ORDER BY s.at, s.id
        """;

    private static readonly string TeamsRefusals = $"""
        SELECT m.at, {RefusalLine("teams", "m.id", "m.at", "m.reason", "m.email", "m.approval_id", "NULL::text", "NULL::int", "NULL::text", "NULL::text",
            "NULL::text", "NULL::text[]", "m.action", "m.user_id", "NULL::text", "m.aad_object_id")}
        FROM teams_refusal m WHERE [[range:m.at]]
        ORDER BY m.at, m.id
        """;

    /// <summary>The query for <paramref name="kinds"/>; its parameters are $1 = from (when set), then to (when set).</summary>
    public static string Build(IReadOnlyList<string> kinds, bool hasFrom, bool hasTo)
    {
        var parts = new List<string>();
        if (kinds.Contains(AuditExport.ToolCall))
        {
            parts.Add(ToolCalls);
        }

        if (kinds.Contains(AuditExport.WorkflowEvent))
        {
            parts.Add(WorkflowEvents);
        }

        if (kinds.Contains(AuditExport.Refusal))
        {
            parts.AddRange([ApiRefusals, SlackRefusals, TeamsRefusals]);
        }

        // Each part is ordered by its own index; the outer ORDER BY on time alone lets the planner merge them as they are.
        var sql = new StringBuilder("SELECT x.line FROM (\n");
        sql.AppendJoin("\nUNION ALL\n", parts.Select(p => $"({WithRange(p, hasFrom, hasTo)})"));
        sql.Append("\n) AS x (at, line) ORDER BY x.at");
        return sql.ToString();
    }

    private static string WithRange(string part, bool hasFrom, bool hasTo)
    {
        const string Marker = "[[range:";
        var start = part.IndexOf(Marker, StringComparison.Ordinal);
        var end = part.IndexOf("]]", start, StringComparison.Ordinal);
        var column = part[(start + Marker.Length)..end];
        var conditions = new List<string>();
        if (hasFrom)
        {
            conditions.Add($"{column} >= $1");
        }

        if (hasTo)
        {
            conditions.Add($"{column} < ${(hasFrom ? 2 : 1)}");
        }

        return part[..start] + (conditions.Count == 0 ? "true" : string.Join(" AND ", conditions)) + part[(end + 2)..];
    }
}
