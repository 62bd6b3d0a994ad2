using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
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
        var operators = condition.Operators;
        if (scratch.Count == 0)
        {
            return AllMatch(operators, null);
        }

        for (var i = 0; i < scratch.Count; i++)
        {
            if (AllMatch(operators, scratch[i]))
            {
                return true;
            }
        }

        return false;
    }

    // Index loops: a foreach over an IReadOnlyList boxes its enumerator, and this runs for every rule of every call.
    private static bool AllMatch(IReadOnlyList<ConditionOperator> operators, JsonElement? value)
    {
        for (var i = 0; i < operators.Count; i++)
        {
            if (Test(operators[i], value) != ConditionResult.Match)
            {
                return false;
            }
        }

        return true;
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
                return !SameKind(value, op.Operand) ? ConditionResult.TypeMismatch : Verdict(Equal(value, op.Value, op.Operand));
            case ConditionKind.Ne:
                return !SameKind(value, op.Operand) ? ConditionResult.TypeMismatch : Verdict(!Equal(value, op.Value, op.Operand));
            case ConditionKind.In:
            case ConditionKind.NotIn:
                var comparable = false;
                var found = false;
                for (var i = 0; i < op.Operands.Count && !found; i++)
                {
                    var candidate = op.Operands[i];
                    if (SameKind(value, candidate))
                    {
                        comparable = true;
                        found = Equal(value, op.Values[i], candidate);
                    }
                }

                return !comparable ? ConditionResult.TypeMismatch : Verdict(found == (op.Kind == ConditionKind.In));
            case ConditionKind.Gt:
            case ConditionKind.Gte:
            case ConditionKind.Lt:
            case ConditionKind.Lte:
                if (value.ValueKind == JsonValueKind.Number && op.Operand.Kind == JsonValueKind.Number)
                {
                    return Verdict(Satisfies(op.Kind, CompareNumbers(value, op.Value, op.Operand)));
                }

                return value.ValueKind == JsonValueKind.String && op.Operand.Text is not null
                    ? Verdict(WithText(value, op, static (text, op) => Satisfies(op.Kind, Math.Sign(text.CompareTo(op.Operand.Text, StringComparison.Ordinal)))))
                    : ConditionResult.TypeMismatch;
            case ConditionKind.Matches:
                return value.ValueKind != JsonValueKind.String ? ConditionResult.TypeMismatch : Verdict(WithText(value, op, static (text, op) => op.Regex!.IsMatch(text)));
            case ConditionKind.Glob:
                return value.ValueKind != JsonValueKind.String ? ConditionResult.TypeMismatch : Verdict(WithText(value, op, static (text, op) => Configuration.Glob.IsMatch(op.Operand.Text!, text)));
            case ConditionKind.Contains:
                return Contains(value, op);
            case ConditionKind.Length:
                if (Length(value) is not { } length)
                {
                    return ConditionResult.TypeMismatch;
                }

                for (var i = 0; i < op.Bounds.Count; i++)
                {
                    var bound = op.Bounds[i];
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

    private static ConditionResult Contains(JsonElement value, ConditionOperator op)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String when op.Operand.Text is not null:
                return Verdict(WithText(value, op, static (text, op) => text.Contains(op.Operand.Text!, StringComparison.Ordinal)));
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    if (SameKind(item, op.Operand) && Equal(item, op.Value, op.Operand))
                    {
                        return ConditionResult.Match;
                    }
                }

                return ConditionResult.NoMatch;
            default:
                return ConditionResult.TypeMismatch;
        }
    }

    private delegate bool TextTest(ReadOnlySpan<char> text, ConditionOperator op);

    /// <summary>
    /// Runs <paramref name="test"/> on a JSON string's characters without allocating a string: the raw UTF-8 is decoded
    /// into a stack or pooled buffer. Strings with escapes (rare in arguments) take the allocating path.
    /// </summary>
    private static bool WithText(JsonElement value, ConditionOperator op, TextTest test)
    {
        var raw = JsonMarshal.GetRawUtf8Value(value);
        if (raw.Length >= 2 && raw[0] == (byte)'"')
        {
            raw = raw[1..^1];
        }

        if (raw.IndexOf((byte)'\\') >= 0)
        {
            return test(value.GetString(), op);
        }

        char[]? rented = null;
        var buffer = raw.Length <= 256 ? stackalloc char[raw.Length] : (rented = ArrayPool<char>.Shared.Rent(raw.Length));
        try
        {
            var length = Encoding.UTF8.GetChars(raw, buffer);
            return test(buffer[..length], op);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
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

    private static int CompareNumbers(JsonElement a, JsonElement b, Operand bPrepared) =>
        bPrepared.Number is { } y && a.TryGetDecimal(out var x) ? x.CompareTo(y) : a.GetDouble().CompareTo(b.GetDouble());

    private static bool SameKind(JsonElement a, Operand b) => Fold(a.ValueKind) == b.Kind;

    private static bool SameKind(JsonElement a, JsonElement b) => Fold(a.ValueKind) == Fold(b.ValueKind);

    private static JsonValueKind Fold(JsonValueKind kind) => kind == JsonValueKind.False ? JsonValueKind.True : kind;

    /// <summary>Deep equality of a value and an operand of the same kind.</summary>
    private static bool Equal(JsonElement a, JsonElement b, Operand prepared) => a.ValueKind switch
    {
        JsonValueKind.Number => CompareNumbers(a, b, prepared) == 0,
        JsonValueKind.String => a.ValueEquals(prepared.Utf8),
        JsonValueKind.True or JsonValueKind.False => a.ValueKind == b.ValueKind,
        JsonValueKind.Null => true,
        _ => SameKind(a, b) && JsonElement.DeepEquals(a, b),
    };

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
