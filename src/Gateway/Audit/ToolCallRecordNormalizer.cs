using System.Text.Json;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>Checks a record and brings it to the form that is stored and hashed.</summary>
internal static class ToolCallRecordNormalizer
{
    private const int MaxIdentifierLength = 512;
    private const int MaxTokenLength = 64;
    private const int MaxErrorLength = 4096;
    private const int MaxArgumentsLength = 256 * 1024;

    /// <summary>
    /// The record as it will be stored and hashed: times at microsecond precision, text PostgreSQL can hold, lengths
    /// capped. Checked here so one bad record fails only its caller, never the batch it would have joined.
    /// </summary>
    public static ToolCallRecord Normalize(ToolCallRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        Require(record.AgentId, nameof(record.AgentId));
        Require(record.Bundle, nameof(record.Bundle));
        Require(record.Upstream, nameof(record.Upstream));
        Require(record.Tool, nameof(record.Tool));
        Require(record.ToolName, nameof(record.ToolName));
        Require(record.ArgumentsDigest, nameof(record.ArgumentsDigest));
        Require(record.Decision, nameof(record.Decision));
        Require(record.Outcome, nameof(record.Outcome));
        ArgumentOutOfRangeException.ThrowIfLessThan(record.Duration, TimeSpan.Zero, nameof(record.Duration));
        if (!IsJson(record.RedactedArguments))
        {
            throw new ArgumentException("RedactedArguments must be JSON text (the output of an IArgumentRedactor).", nameof(record));
        }

        var arguments = record.RedactedArguments.Length <= MaxArgumentsLength
            ? record.RedactedArguments
            : $$"""{"{{ArgumentRedactor.TruncatedMember}}":"the redacted arguments were {{record.RedactedArguments.Length}} characters"}""";
        var started = record.StartedAt.ToUniversalTime();
        return record with
        {
            AgentId = AuditText.Clean(record.AgentId, MaxIdentifierLength),
            Bundle = AuditText.Clean(record.Bundle, MaxIdentifierLength),
            Upstream = AuditText.Clean(record.Upstream, MaxIdentifierLength),
            Tool = AuditText.Clean(record.Tool, MaxIdentifierLength),
            ToolName = AuditText.Clean(record.ToolName, MaxIdentifierLength),
            ArgumentsDigest = AuditText.Clean(record.ArgumentsDigest, MaxTokenLength * 2),
            RedactedArguments = arguments,
            Decision = AuditText.Clean(record.Decision, MaxTokenLength),
            Rule = AuditText.CleanOrNull(record.Rule, MaxIdentifierLength),
            Outcome = AuditText.Clean(record.Outcome, MaxTokenLength),
            Error = AuditText.CleanOrNull(record.Error, MaxErrorLength),
            SessionId = AuditText.CleanOrNull(record.SessionId, MaxIdentifierLength),
            RequestId = AuditText.CleanOrNull(record.RequestId, MaxIdentifierLength),
            ShadowDecision = AuditText.CleanOrNull(record.ShadowDecision, MaxTokenLength),
            ShadowRule = AuditText.CleanOrNull(record.ShadowRule, MaxIdentifierLength),
            ExecutedArgumentsDigest = AuditText.CleanOrNull(record.ExecutedArgumentsDigest, MaxTokenLength * 2),
            StartedAt = new DateTimeOffset(started.UtcTicks - (started.UtcTicks % TimeSpan.TicksPerMicrosecond), TimeSpan.Zero),
            Duration = TimeSpan.FromTicks(record.Duration.Ticks - (record.Duration.Ticks % TimeSpan.TicksPerMicrosecond)),
        };
    }

    private static void Require(string? value, string name)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException($"{name} is required in a tool-call audit record.", name);
        }
    }

    private static bool IsJson(string? text)
    {
        if (text is null)
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
