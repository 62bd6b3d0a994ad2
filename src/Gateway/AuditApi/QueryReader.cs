using System.Globalization;
using ApprovalEngine.Gateway.Verification;
using ApprovalEngine.Workflows.Approval;

namespace ApprovalEngine.Gateway.AuditApi;

/// <summary>
/// Parses the query parameters of one request and collects every bad one, so the answer is one 400 problem that names
/// each parameter and what is wrong with it (read <see cref="Problem"/> after the last read).
/// </summary>
public sealed class QueryReader
{
    /// <summary>The status filter that means pending or escalated.</summary>
    public const string Open = "open";

    /// <summary>The status filter that means any status.</summary>
    public const string All = "all";

    private readonly Dictionary<string, string[]> errors = new(StringComparer.Ordinal);

    /// <summary>A 400 <c>application/problem+json</c> naming every bad parameter, with an <c>errors</c> map; null when all were good.</summary>
    public IResult? Problem => errors.Count == 0
        ? null
        : Results.Problem(
            statusCode: StatusCodes.Status400BadRequest,
            title: "Bad request",
            detail: string.Join(" ", errors.Select(e => $"{e.Key}: {e.Value[0]}")),
            extensions: new Dictionary<string, object?> { ["errors"] = errors });

    /// <summary>Reports a problem with a parameter found outside this reader (for example a cursor the query refused).</summary>
    public static IResult ProblemWith(string parameter, string detail)
    {
        var reader = new QueryReader();
        reader.Fail(parameter, detail);
        return reader.Problem!;
    }

    public int Limit(string? value, int defaultLimit, int max, string name = "limit")
    {
        if (value is null)
        {
            return defaultLimit;
        }

        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit >= 1 && limit <= max)
        {
            return limit;
        }

        Fail(name, $"must be a whole number from 1 to {max.ToString(CultureInfo.InvariantCulture)} (got '{value}').");
        return defaultLimit;
    }

    /// <summary>An ISO 8601 date or time (UTC unless it has an offset), as the <c>verify</c> command reads them.</summary>
    public DateTimeOffset? Time(string name, string? value)
    {
        if (value is null)
        {
            return null;
        }

        if (VerifyArguments.TryParseInstant(value, out var instant))
        {
            return instant;
        }

        Fail(name, $"'{value}' is not an ISO 8601 date or time (such as 2025-01-31 or 2025-01-31T08:00:00Z).");
        return null;
    }

    /// <summary>A range [from, to); reports <paramref name="toName"/> when both are set and it is not later.</summary>
    public (DateTimeOffset? From, DateTimeOffset? To) Range(string? from, string? to, string fromName = "from", string toName = "to")
    {
        var start = Time(fromName, from);
        var end = Time(toName, to);
        if (start is { } s && end is { } e && e <= s)
        {
            Fail(toName, $"must be later than {fromName} (the range is [{fromName}, {toName})).");
        }

        return (start, end);
    }

    public bool Flag(string name, string? value)
    {
        switch (value)
        {
            case null or "false" or "0":
                return false;
            case "true" or "1" or "":
                return true;
            default:
                Fail(name, $"must be true or false (got '{value}').");
                return false;
        }
    }

    /// <summary>A status name, <see cref="Open"/> (pending or escalated) or <see cref="All"/>; null statuses mean any.</summary>
    public IReadOnlyList<ApprovalStatus>? Statuses(string name, string? value, string whenAbsent)
    {
        var text = value ?? whenAbsent;
        switch (text)
        {
            case All:
                return null;
            case Open:
                return [ApprovalStatus.Pending, ApprovalStatus.Escalated];
        }

        try
        {
            return [ApprovalMachine.ParseStatus(text)];
        }
        catch (FormatException)
        {
            Fail(name, $"'{text}' is not a status; use {Open}, {All}, or one of {string.Join(", ", Enum.GetValues<ApprovalStatus>().Select(ApprovalMachine.StatusName))}.");
            return null;
        }
    }

    /// <summary>Text that, when given, must not be empty.</summary>
    public string? Text(string name, string? value)
    {
        if (value is { Length: 0 })
        {
            Fail(name, "must not be empty when given.");
            return null;
        }

        return value;
    }

    public Guid? Id(string name, string? value)
    {
        if (value is null)
        {
            return null;
        }

        if (Guid.TryParse(value, out var id))
        {
            return id;
        }

        Fail(name, $"'{value}' is not an approval id (a UUID).");
        return null;
    }

    public void Fail(string name, string detail)
    {
        errors[name] = errors.TryGetValue(name, out var existing) ? [.. existing, detail] : [detail];
    }
}
