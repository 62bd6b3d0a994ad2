using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ApprovalEngine.Gateway.Policy;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>
/// Reads <c>match.arguments</c>: a list of <c>{path, operator: operand, ...}</c>. Operands keep their YAML types: plain
/// <c>5</c> and <c>true</c> are a number and a boolean, quoted <c>"5"</c> is a string.
/// </summary>
internal static partial class PolicyArguments
{
    private static readonly string[] Operators = ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "matches", "glob", "contains", "exists", "length"];
    private static readonly string[] LengthOperators = ["eq", "ne", "gt", "gte", "lt", "lte"];

    public static List<ArgumentCondition> Read(MappingView match, TimeSpan regexTimeout)
    {
        var conditions = new List<ArgumentCondition>();
        var node = match.Node("arguments");
        if (node is null)
        {
            return conditions;
        }

        if (node is not YSequence sequence)
        {
            match.Reader.Error(node.Start, match.PathOf("arguments"), $"expected a list of conditions ({{path: $.amount, gt: 100}}), found {node.Kind}");
            return conditions;
        }

        for (var i = 0; i < sequence.Items.Count; i++)
        {
            var item = sequence.Items[i];
            var path = string.Create(CultureInfo.InvariantCulture, $"{match.PathOf("arguments")}[{i}]");
            if (match.Reader.Mapping(item, path, item.Start, ["path", .. Operators]) is { } view && Condition(view, regexTimeout) is { } condition)
            {
                conditions.Add(condition);
            }
        }

        return conditions;
    }

    private static ArgumentCondition? Condition(MappingView view, TimeSpan regexTimeout)
    {
        JsonPath? jsonPath = null;
        if (view.String("path", required: true) is { } text && !JsonPath.TryParse(text, out jsonPath, out var problem))
        {
            view.Reader.Error(view.KeyPosition("path"), view.PathOf("path"), $"not a JSON path: {problem} (got \"{text}\")");
        }

        var operators = new List<ConditionOperator>();
        foreach (var (key, value) in view.Entries)
        {
            if (key.Value != "path" && Operator(view, key, value, regexTimeout) is { } op)
            {
                operators.Add(op);
            }
        }

        if (!view.Entries.Any(e => e.Key.Value != "path"))
        {
            view.Reader.Error(view.Owner, view.Field, $"a condition needs an operator: one of {string.Join(", ", Operators)}");
        }

        return jsonPath is null || operators.Count == 0 ? null : new ArgumentCondition { Path = jsonPath, Operators = operators };
    }

    private static ConditionOperator? Operator(MappingView view, YScalar key, YNode value, TimeSpan regexTimeout)
    {
        var field = view.PathOf(key.Value);
        var reader = view.Reader;
        var kind = Kind(key.Value);
        switch (kind)
        {
            case ConditionKind.In or ConditionKind.NotIn:
                if (value is not YSequence list || list.Items.Count == 0)
                {
                    reader.Error(value.Start, field, "expects a non-empty list of values");
                    return null;
                }

                return new ConditionOperator { Kind = kind, Values = [.. list.Items.Select(Json)] };

            case ConditionKind.Gt or ConditionKind.Gte or ConditionKind.Lt or ConditionKind.Lte:
                var bound = value is YScalar { IsNull: false } ? Json(value) : default;
                if (bound.ValueKind is not (JsonValueKind.Number or JsonValueKind.String))
                {
                    reader.Error(value.Start, field, "expects a number or a string to compare with");
                    return null;
                }

                return new ConditionOperator { Kind = kind, Value = bound };

            case ConditionKind.Matches:
                if (reader.Text(value, field) is not { } pattern)
                {
                    return null;
                }

                try
                {
                    return new ConditionOperator { Kind = kind, Regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, regexTimeout) };
                }
                catch (ArgumentException e)
                {
                    reader.Error(value.Start, field, $"not a valid regular expression: {e.Message}");
                    return null;
                }

            case ConditionKind.Glob:
                return reader.Text(value, field, Checks.Glob) is { } glob ? new ConditionOperator { Kind = kind, Value = JsonSerializer.SerializeToElement(glob) } : null;

            case ConditionKind.Exists:
                var exists = Json(value);
                if (exists.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    reader.Error(value.Start, field, "expects true or false");
                    return null;
                }

                return new ConditionOperator { Kind = kind, Value = exists };

            case ConditionKind.Length:
                return Length(view, key, value);

            default:
                return new ConditionOperator { Kind = kind, Value = Json(value) };
        }
    }

    private static ConditionOperator? Length(MappingView view, YScalar key, YNode value)
    {
        var field = view.PathOf(key.Value);
        if (value is YScalar)
        {
            var exact = Json(value);
            if (!IsCount(exact))
            {
                view.Reader.Error(value.Start, field, "expects a whole number, or a mapping such as {gte: 1, lte: 10}");
                return null;
            }

            return new ConditionOperator { Kind = ConditionKind.Length, Bounds = [new ConditionOperator { Kind = ConditionKind.Eq, Value = exact }] };
        }

        if (view.Reader.Mapping(value, field, key.Start, LengthOperators) is not { } bounds)
        {
            return null;
        }

        var parsed = new List<ConditionOperator>();
        foreach (var (boundKey, boundValue) in bounds.Entries)
        {
            var number = Json(boundValue);
            if (!IsCount(number))
            {
                view.Reader.Error(boundValue.Start, bounds.PathOf(boundKey.Value), "expects a whole number");
                continue;
            }

            parsed.Add(new ConditionOperator { Kind = Kind(boundKey.Value), Value = number });
        }

        return parsed.Count == 0 ? null : new ConditionOperator { Kind = ConditionKind.Length, Bounds = parsed };
    }

    private static bool IsCount(JsonElement value) => value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) && n >= 0;

    private static ConditionKind Kind(string name) => name == "not_in" ? ConditionKind.NotIn : Enum.Parse<ConditionKind>(name, ignoreCase: true);

    /// <summary>A YAML node as JSON, keeping YAML's plain-scalar types (YAML 1.2 core schema).</summary>
    public static JsonElement Json(YNode node)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, node);
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }

    private static void Write(Utf8JsonWriter writer, YNode node)
    {
        switch (node)
        {
            case YScalar { IsNull: true }:
                writer.WriteNullValue();
                break;
            case YScalar { IsPlain: true, Value: "true" or "True" or "TRUE" }:
                writer.WriteBooleanValue(true);
                break;
            case YScalar { IsPlain: true, Value: "false" or "False" or "FALSE" }:
                writer.WriteBooleanValue(false);
                break;
            case YScalar { IsPlain: true } plain when NumberPattern().IsMatch(plain.Value):
                writer.WriteRawValue(Encoding.UTF8.GetBytes(plain.Value.TrimStart('+')));
                break;
            case YScalar scalar:
                writer.WriteStringValue(scalar.Value);
                break;
            case YSequence sequence:
                writer.WriteStartArray();
                foreach (var item in sequence.Items)
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            case YMapping mapping:
                writer.WriteStartObject();
                foreach (var (key, value) in mapping.Entries)
                {
                    writer.WritePropertyName(key.Value);
                    Write(writer, value);
                }

                writer.WriteEndObject();
                break;
        }
    }

    // JSON's number grammar (what YAML 1.2's core schema also accepts as an integer or float, minus .inf and .nan).
    [GeneratedRegex(@"^[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")]
    private static partial Regex NumberPattern();
}
