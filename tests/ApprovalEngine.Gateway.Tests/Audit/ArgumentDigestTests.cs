using System.Text;
using System.Text.Json;
using ApprovalEngine.Gateway.Audit;
using static ApprovalEngine.Gateway.Tests.Audit.AuditFixtures;

namespace ApprovalEngine.Gateway.Tests.Audit;

public sealed class ArgumentDigestTests
{
    // sha256("{}"): the digest of a call without arguments is fixed forever (approvals are bound to digests).
    private const string EmptyDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    [Fact]
    public void Compute_KeysInAnotherOrderAndWhitespace_SameDigest()
    {
        var a = Json("""{"path":"/tmp/x","options":{"mode":"w","flags":[1,{"z":true,"a":null}]},"content":"hi"}""");
        var b = Json("""
            {
              "content" : "hi",
              "options": { "flags": [ 1, { "a": null, "z": true } ], "mode": "w" },
              "path": "/tmp/x"
            }
            """);

        Assert.Equal(ArgumentDigest.Compute(a), ArgumentDigest.Compute(b));
    }

    [Fact]
    public void Canonicalize_NestedValue_SortedCompactNumbersAsWritten()
    {
        var value = Json("""{"b": [1.50, "x\n\u0041\u00e9", false], "a": {"d": 2e3, "c": null}, "B": -0}""");

        var canonical = Encoding.UTF8.GetString(ArgumentDigest.Canonicalize(value));

        Assert.Equal("{\"B\":-0,\"a\":{\"c\":null,\"d\":2e3},\"b\":[1.50,\"x\\nAé\",false]}", canonical);
    }

    [Theory]
    [InlineData("""{"a":1}""", """{"a":2}""")]
    [InlineData("""{"a":1}""", """{"a":"1"}""")]
    [InlineData("""{"a":1}""", """{"a":1.0}""")]
    [InlineData("""{"a":1}""", """{"b":1}""")]
    [InlineData("""{"a":1}""", """{"a":[1]}""")]
    [InlineData("""{"a":{"b":{"c":"x"}}}""", """{"a":{"b":{"c":"y"}}}""")]
    [InlineData("""{"a":[1,2]}""", """{"a":[2,1]}""")]
    [InlineData("""{"a":"x","b":"y"}""", """{"a":"xy","b":""}""")]
    [InlineData("""{"a":null}""", """{}""")]
    [InlineData("""{"a":"\u0000"}""", """{"a":""}""")]
    [InlineData("""{"a":"\ud800"}""", """{"a":"\ufffd"}""")]
    public void Compute_DifferentArguments_DifferentDigests(string first, string second)
    {
        Assert.NotEqual(ArgumentDigest.Compute(Json(first)), ArgumentDigest.Compute(Json(second)));
    }

    [Fact]
    public void Compute_EscapedAndLiteralCharacters_SameDigest()
    {
        Assert.Equal(ArgumentDigest.Compute(Json("""{"k":"\u0041\u00e9\/"}""")), ArgumentDigest.Compute(Json("""{"k":"Aé/"}""")));
    }

    [Fact]
    public void Compute_AbsentNullOrEmptyArguments_OneFixedDigest()
    {
        Assert.Equal(EmptyDigest, ArgumentDigest.Compute((JsonElement?)null));
        Assert.Equal(EmptyDigest, ArgumentDigest.Compute(Json("null")));
        Assert.Equal(EmptyDigest, ArgumentDigest.Compute(Json("{ }")));
        Assert.Equal(EmptyDigest, ArgumentDigest.Compute((IEnumerable<KeyValuePair<string, JsonElement>>?)null));
        Assert.Equal(EmptyDigest, ArgumentDigest.Compute(new Dictionary<string, JsonElement>()));
    }

    [Fact]
    public void Compute_SdkArgumentMap_SameDigestAsTheJsonObject()
    {
        var map = new Dictionary<string, JsonElement>
        {
            ["z"] = Json("""{"y":1,"x":[true]}"""),
            ["a"] = Json("\"text\""),
        };

        Assert.Equal(ArgumentDigest.Compute(Json("""{"a":"text","z":{"x":[true],"y":1}}""")), ArgumentDigest.Compute(map));
    }

    [Fact]
    public void Compute_Always_PrefixAnd64LowercaseHexDigits()
    {
        var digest = ArgumentDigest.Compute(Json("""{"path":"/tmp/x"}"""));

        Assert.Matches("^sha256:[0-9a-f]{64}$", digest);
    }

    [Fact]
    public void Compute_NameWithEscapedLoneSurrogate_DoesNotThrowAndDiffersFromOtherNames()
    {
        var odd = ArgumentDigest.Compute(Json("""{"k\udc00":1}"""));

        Assert.NotEqual(odd, ArgumentDigest.Compute(Json("""{"k\udc01":1}""")));
        Assert.NotEqual(odd, ArgumentDigest.Compute(Json("""{"k":1}""")));
    }
}
