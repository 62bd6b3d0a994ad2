using System.Text.Json;
using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>How one operator judged one value.</summary>
public enum ConditionResult
{
    Match,
    NoMatch,

    /// <summary>The value's JSON type does not fit the operator (a string compared with a number): no match.</summary>
    TypeMismatch,

    /// <summary>The path selected nothing: no match, except for <c>exists: false</c>.</summary>
    Missing,
}

/// <summary>
/// The argument condition operators. Types are strict: <c>"5"</c> is a string and never equals or exceeds <c>5</c>; a
/// type mismatch is "no match", never an error and never a silent pass. Regex timeouts propagate so that the caller
/// fails the call closed.
/// </summary>
public static class Conditions
{
    /// <summary>Whether the condition holds: for some selected value every operator matches (<c>exists: false</c>: nothing selected).</summary>
    public static bool Holds(ArgumentCondition condition, IDictionary<string, JsonElement>? arguments, List<JsonElement> scratch)
    {
        scratch.Clear();
        condition.Path.Select(arguments, scratch);
        if (scratch.Count == 0)
        {
            return condition.Operators.All(op => Test(op, null) == ConditionResult.Match);
        }

        foreach (var value in scratch)
        {
            var all = true;
            foreach (var op in condition.Operators)
            {
                if (Test(op, value) != ConditionResult.Match)
                {
                    all = false;
                    break;
                }
            }

            if (all)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Judges one value (<c>null</c>: the path selected nothing).</summary>
    public static ConditionResult Test(ConditionOperator op, JsonElement? selected)
    {
        if (op.Kind == ConditionKind.Exists)
        {
            var wanted = op.Value.ValueKind == JsonValueKind.True;
            return (selected is not null) == wanted ? ConditionResult.Match : ConditionResult.NoMatch;
        }

        if (selected is not { } value)
        {
            return ConditionResult.Missing;
        }

        switch (op.Kind)
        {
            case ConditionKind.Eq:
                return !SameKind(value, op.Value) ? ConditionResult.TypeMismatch : Verdict(DeepEquals(value, op.Value));
            case ConditionKind.Ne:
                return !SameKind(value, op.Value) ? ConditionResult.TypeMismatch : Verdict(!DeepEquals(value, op.Value));
            case ConditionKind.In:
            case ConditionKind.NotIn:
                var comparable = false;
                var found = false;
                foreach (var candidate in op.Values)
                {
                    if (SameKind(value, candidate))
                    {
                        comparable = true;
                        found |= DeepEquals(value, candidate);
                    }
                }

                return !comparable ? ConditionResult.TypeMismatch : Verdict(found == (op.Kind == ConditionKind.In));
            case ConditionKind.Gt:
            case ConditionKind.Gte:
            case ConditionKind.Lt:
            case ConditionKind.Lte:
                return Compare(value, op.Value) is not { } order ? ConditionResult.TypeMismatch : Verdict(Satisfies(op.Kind, order));
            case ConditionKind.Matches:
                return value.ValueKind != JsonValueKind.String ? ConditionResult.TypeMismatch : Verdict(op.Regex!.IsMatch(value.GetString()!));
            case ConditionKind.Glob:
                return value.ValueKind != JsonValueKind.String ? ConditionResult.TypeMismatch : Verdict(Configuration.Glob.IsMatch(op.Value.GetString()!, value.GetString()!));
            case ConditionKind.Contains:
                return Contains(value, op.Value);
            case ConditionKind.Length:
                if (Length(value) is not { } length)
                {
                    return ConditionResult.TypeMismatch;
                }

                foreach (var bound in op.Bounds)
                {
                    var lengthOrder = ((decimal)length).CompareTo(bound.Value.GetDecimal());
                    if (bound.Kind == ConditionKind.Eq ? lengthOrder != 0 : bound.Kind == ConditionKind.Ne ? lengthOrder == 0 : !Satisfies(bound.Kind, lengthOrder))
                    {
                        return ConditionResult.NoMatch;
                    }
                }

                return ConditionResult.Match;
            default:
                throw new ArgumentOutOfRangeException(nameof(op), op.Kind, "unknown operator");
        }
    }

    /// <summary>Why a value does or does not satisfy an operator, for explain.</summary>
    public static string Describe(ArgumentCondition condition, ConditionOperator op, JsonElement? selected)
    {
        var shown = selected is { } value ? Shorten(value.GetRawText()) : "nothing";
        var operand = op.Kind switch
        {
            ConditionKind.In or ConditionKind.NotIn => "[" + string.Join(", ", op.Values.Select(v => v.GetRawText())) + "]",
            ConditionKind.Matches => "/" + op.Regex + "/",
            ConditionKind.Length => string.Join(" and ", op.Bounds.Select(b => $"{Name(b.Kind)} {b.Value.GetRawText()}")),
            _ => op.Value.GetRawText(),
        };
        var verdict = Test(op, selected) switch
        {
            ConditionResult.Match => "holds",
            ConditionResult.NoMatch => "does not hold",
            ConditionResult.Missing => "does not hold: the path selects nothing",
            _ => $"does not hold: {KindName(selected!.Value)} cannot be compared with {OperandKind(op)}",
        };
        return $"{condition.Path} {Name(op.Kind)} {operand} on {shown}: {verdict}";
    }

    public static string Name(ConditionKind kind) => kind switch
    {
        ConditionKind.NotIn => "not_in",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static ConditionResult Verdict(bool match) => match ? ConditionResult.Match : ConditionResult.NoMatch;

    private static bool Satisfies(ConditionKind kind, int order) => kind switch
    {
        ConditionKind.Gt => order > 0,
        ConditionKind.Gte => order >= 0,
        ConditionKind.Lt => order < 0,
        _ => order <= 0,
    };

    private static ConditionResult Contains(JsonElement value, JsonElement operand)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String when operand.ValueKind == JsonValueKind.String:
                return Verdict(value.GetString()!.Contains(operand.GetString()!, StringComparison.Ordinal));
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    if (SameKind(item, operand) && DeepEquals(item, operand))
                    {
                        return ConditionResult.Match;
                    }
                }

                return ConditionResult.NoMatch;
            default:
                return ConditionResult.TypeMismatch;
        }
    }

    /// <summary>Characters (Unicode scalar values) of a string, items of an array, members of an object.</summary>
    private static int? Length(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!.EnumerateRunes().Count(),
        JsonValueKind.Array => value.GetArrayLength(),
        JsonValueKind.Object => value.EnumerateObject().Count(),
        _ => null,
    };

    /// <summary>The order of two numbers or two strings (ordinal); null for any other pair.</summary>
    private static int? Compare(JsonElement a, JsonElement b)
    {
        if (a.ValueKind == JsonValueKind.Number && b.ValueKind == JsonValueKind.Number)
        {
            return CompareNumbers(a, b);
        }

        return a.ValueKind == JsonValueKind.String && b.ValueKind == JsonValueKind.String
            ? Math.Sign(string.CompareOrdinal(a.GetString(), b.GetString()))
            : null;
    }

    private static int CompareNumbers(JsonElement a, JsonElement b) =>
        a.TryGetDecimal(out var x) && b.TryGetDecimal(out var y) ? x.CompareTo(y) : a.GetDouble().CompareTo(b.GetDouble());

    private static bool SameKind(JsonElement a, JsonElement b) => Kind(a.ValueKind) == Kind(b.ValueKind);

    private static JsonValueKind Kind(JsonValueKind kind) => kind == JsonValueKind.False ? JsonValueKind.True : kind;

    private static bool DeepEquals(JsonElement a, JsonElement b)
    {
        if (!SameKind(a, b))
        {
            return false;
        }

        return a.ValueKind switch
        {
            JsonValueKind.Number => CompareNumbers(a, b) == 0,
            JsonValueKind.String => string.Equals(a.GetString(), b.GetString(), StringComparison.Ordinal),
            JsonValueKind.True or JsonValueKind.False => a.ValueKind == b.ValueKind,
            JsonValueKind.Null => true,
            _ => JsonElement.DeepEquals(a, b),
        };
    }

    private static string KindName(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Number => "a number",
        JsonValueKind.String => "a string",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private static string OperandKind(ConditionOperator op) => op.Kind switch
    {
        ConditionKind.Matches or ConditionKind.Glob => "a pattern (strings only)",
        ConditionKind.Length => "a length (strings, arrays and objects only)",
        ConditionKind.In or ConditionKind.NotIn => string.Join(" or ", op.Values.Select(KindName).Distinct()),
        ConditionKind.Contains when op.Value.ValueKind != JsonValueKind.String => "an item (arrays only)",
        _ => KindName(op.Value),
    };

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";
}
