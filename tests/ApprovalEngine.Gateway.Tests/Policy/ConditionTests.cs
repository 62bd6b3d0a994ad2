using System.Text.Json;
using System.Text.RegularExpressions;
using ApprovalEngine.Gateway.Policy;

namespace ApprovalEngine.Gateway.Tests.Policy;

public sealed class ConditionTests
{
    // Operand and value are JSON text; a null value means the path selected nothing.
    public static TheoryData<string, string, string?, ConditionResult> Cases => new()
    {
        { "eq", "5", "5", ConditionResult.Match },
        { "eq", "5", "5.0", ConditionResult.Match },
        { "eq", "5", "6", ConditionResult.NoMatch },
        { "eq", "5", "\"5\"", ConditionResult.TypeMismatch },
        { "eq", "\"prod\"", "\"prod\"", ConditionResult.Match },
        { "eq", "\"prod\"", "\"Prod\"", ConditionResult.NoMatch },
        { "eq", "true", "true", ConditionResult.Match },
        { "eq", "true", "false", ConditionResult.NoMatch },
        { "eq", "true", "\"true\"", ConditionResult.TypeMismatch },
        { "eq", "null", "null", ConditionResult.Match },
        { "eq", "null", "0", ConditionResult.TypeMismatch },
        { "eq", "{\"a\":[1,2]}", "{\"a\":[1,2]}", ConditionResult.Match },
        { "eq", "[1,2]", "[2,1]", ConditionResult.NoMatch },
        { "eq", "5", null, ConditionResult.Missing },
        { "ne", "\"prod\"", "\"dev\"", ConditionResult.Match },
        { "ne", "\"prod\"", "\"prod\"", ConditionResult.NoMatch },
        { "ne", "5", "\"6\"", ConditionResult.TypeMismatch },
        { "ne", "5", null, ConditionResult.Missing },
        { "in", "[\"USD\",\"EUR\"]", "\"EUR\"", ConditionResult.Match },
        { "in", "[\"USD\",\"EUR\"]", "\"GBP\"", ConditionResult.NoMatch },
        { "in", "[1,2,3]", "\"2\"", ConditionResult.TypeMismatch },
        { "in", "[1,\"2\"]", "\"2\"", ConditionResult.Match },
        { "in", "[1,2]", null, ConditionResult.Missing },
        { "not_in", "[\"USD\",\"EUR\"]", "\"GBP\"", ConditionResult.Match },
        { "not_in", "[\"USD\",\"EUR\"]", "\"USD\"", ConditionResult.NoMatch },
        { "not_in", "[1,2]", "\"3\"", ConditionResult.TypeMismatch },
        { "not_in", "[1,2]", null, ConditionResult.Missing },
        { "gt", "1000", "1000.01", ConditionResult.Match },
        { "gt", "1000", "1000", ConditionResult.NoMatch },
        { "gt", "1000", "\"5000\"", ConditionResult.TypeMismatch },
        { "gt", "1000", "true", ConditionResult.TypeMismatch },
        { "gt", "\"2026-01-01\"", "\"2026-06-30\"", ConditionResult.Match },
        { "gt", "1000", null, ConditionResult.Missing },
        { "gte", "1000", "1000", ConditionResult.Match },
        { "gte", "1000", "999.999", ConditionResult.NoMatch },
        { "gte", "1e3", "1000", ConditionResult.Match },
        { "gte", "\"b\"", "[\"c\"]", ConditionResult.TypeMismatch },
        { "lt", "0", "-0.5", ConditionResult.Match },
        { "lt", "0", "0", ConditionResult.NoMatch },
        { "lt", "0", "null", ConditionResult.TypeMismatch },
        { "lte", "10", "10", ConditionResult.Match },
        { "lte", "10", "11", ConditionResult.NoMatch },
        { "lte", "10", "{\"n\":1}", ConditionResult.TypeMismatch },
        { "lte", "1e400", "1", ConditionResult.Match },
        { "matches", "\"^/etc/\"", "\"/etc/passwd\"", ConditionResult.Match },
        { "matches", "\"^/etc/\"", "\"/home/etc/x\"", ConditionResult.NoMatch },
        { "matches", "\"^1\"", "123", ConditionResult.TypeMismatch },
        { "matches", "\"x\"", null, ConditionResult.Missing },
        { "glob", "\"/etc/*\"", "\"/etc/shadow\"", ConditionResult.Match },
        { "glob", "\"*.pem\"", "\"key.pem.bak\"", ConditionResult.NoMatch },
        { "glob", "\"*\"", "42", ConditionResult.TypeMismatch },
        { "contains", "\"DROP TABLE\"", "\"x; DROP TABLE users\"", ConditionResult.Match },
        { "contains", "\"DROP TABLE\"", "\"drop table users\"", ConditionResult.NoMatch },
        { "contains", "\"admin\"", "[\"dev\",\"admin\"]", ConditionResult.Match },
        { "contains", "3", "[1,2,\"3\"]", ConditionResult.NoMatch },
        { "contains", "3", "\"123\"", ConditionResult.TypeMismatch },
        { "contains", "\"a\"", "{\"a\":1}", ConditionResult.TypeMismatch },
        { "contains", "\"a\"", null, ConditionResult.Missing },
        { "exists", "true", "null", ConditionResult.Match },
        { "exists", "true", null, ConditionResult.NoMatch },
        { "exists", "false", null, ConditionResult.Match },
        { "exists", "false", "\"x\"", ConditionResult.NoMatch },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Test_OperatorAndValue_GivesResult(string kind, string operand, string? value, ConditionResult expected)
    {
        var op = Operator(kind, operand);

        Assert.Equal(expected, Conditions.Test(op, value is null ? null : Json(value)));
    }

    public static TheoryData<string, string?, ConditionResult> LengthCases => new()
    {
        { "{\"eq\":3}", "\"abc\"", ConditionResult.Match },
        { "{\"eq\":3}", "\"ab\"", ConditionResult.NoMatch },
        { "{\"eq\":2}", "\"😀é\"", ConditionResult.Match }, // characters, not UTF-16 units
        { "{\"gte\":1,\"lte\":2}", "[1,2]", ConditionResult.Match },
        { "{\"gte\":1,\"lte\":2}", "[]", ConditionResult.NoMatch },
        { "{\"gt\":1}", "{\"a\":1,\"b\":2}", ConditionResult.Match },
        { "{\"ne\":0}", "\"\"", ConditionResult.NoMatch },
        { "{\"lt\":5}", "12345", ConditionResult.TypeMismatch },
        { "{\"lt\":5}", "true", ConditionResult.TypeMismatch },
        { "{\"lt\":5}", null, ConditionResult.Missing },
    };

    [Theory]
    [MemberData(nameof(LengthCases))]
    public void Test_Length_ComparesCharactersItemsOrMembers(string bounds, string? value, ConditionResult expected)
    {
        var op = new ConditionOperator
        {
            Kind = ConditionKind.Length,
            Bounds = [.. Json(bounds).EnumerateObject().Select(b => Operator(b.Name, b.Value.GetRawText()))],
        };

        Assert.Equal(expected, Conditions.Test(op, value is null ? null : Json(value)));
    }

    [Fact]
    public void Test_CatastrophicRegexPastItsTimeout_Throws()
    {
        var op = new ConditionOperator { Kind = ConditionKind.Matches, Regex = new Regex("^(a+)+$", RegexOptions.None, TimeSpan.FromMilliseconds(5)) };

        Assert.Throws<RegexMatchTimeoutException>(() => Conditions.Test(op, Json(JsonSerializer.Serialize(new string('a', 5000) + "!"))));
    }

    [Theory]
    [InlineData("$.items[*].sku", """{"items":[{"sku":"A"},{"sku":"B-9"}]}""", true)]
    [InlineData("$.items[*].sku", """{"items":[{"sku":"A"},{"sku":"C"}]}""", false)]
    [InlineData("$.items[1].sku", """{"items":[{"sku":"B-9"},{"sku":"A"}]}""", false)]
    [InlineData("$['odd key']", """{"odd key":"B-1"}""", true)]
    [InlineData("$.*", """{"x":"B-2","y":1}""", true)]
    [InlineData("items.sku", """{"items":{"sku":"B-3"}}""", true)]
    [InlineData("$.items[5].sku", """{"items":[]}""", false)]
    public void Holds_WildcardsAndIndexes_AnySelectedValueMatches(string path, string arguments, bool expected)
    {
        Assert.True(JsonPath.TryParse(path, out var parsed, out var error), error);
        var condition = new ArgumentCondition { Path = parsed!, Operators = [Operator("glob", "\"B-*\"")] };

        Assert.Equal(expected, Conditions.Holds(condition, Arguments(arguments), []));
    }

    [Fact]
    public void Holds_ExistsFalseAndNothingSelected_Holds()
    {
        Assert.True(JsonPath.TryParse("$.force", out var path, out _));
        var condition = new ArgumentCondition { Path = path!, Operators = [Operator("exists", "false")] };

        Assert.True(Conditions.Holds(condition, Arguments("""{"path":"/tmp"}"""), []));
        Assert.False(Conditions.Holds(condition, Arguments("""{"force":false}"""), []));
        Assert.True(Conditions.Holds(condition, null, []));
    }

    [Theory]
    [InlineData("$.", "an empty member name")]
    [InlineData("$.a[", "is not closed")]
    [InlineData("$.a[x]", "[x] is not an index")]
    [InlineData("$", "the arguments object itself")]
    [InlineData("$a", "unexpected 'a'")]
    public void TryParse_BadPath_SaysWhatIsWrong(string path, string problem)
    {
        Assert.False(JsonPath.TryParse(path, out _, out var error));
        Assert.Contains(problem, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_TypeMismatch_NamesBothTypes()
    {
        Assert.True(JsonPath.TryParse("$.amount", out var path, out _));
        var condition = new ArgumentCondition { Path = path!, Operators = [Operator("gt", "1000")] };

        var text = Conditions.Describe(condition, condition.Operators[0], Json("\"5000\""));

        Assert.Equal("$.amount gt 1000 on \"5000\": does not hold: a string cannot be compared with a number", text);
    }

    internal static ConditionOperator Operator(string kind, string operand)
    {
        var parsed = kind == "not_in" ? ConditionKind.NotIn : Enum.Parse<ConditionKind>(kind, ignoreCase: true);
        var value = Json(operand);
        return parsed switch
        {
            ConditionKind.In or ConditionKind.NotIn => new ConditionOperator { Kind = parsed, Values = [.. value.EnumerateArray()] },
            ConditionKind.Matches => new ConditionOperator { Kind = parsed, Regex = new Regex(value.GetString()!, RegexOptions.None, TimeSpan.FromSeconds(1)) },
            _ => new ConditionOperator { Kind = parsed, Value = value },
        };
    }

    internal static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    internal static Dictionary<string, JsonElement> Arguments(string json) =>
        Json(json).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
}
