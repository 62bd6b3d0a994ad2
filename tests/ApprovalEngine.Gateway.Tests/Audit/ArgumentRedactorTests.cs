using System.Text;
using System.Text.Json;
using ApprovalEngine.Gateway.Audit;
using static ApprovalEngine.Gateway.Tests.Audit.AuditFixtures;

namespace ApprovalEngine.Gateway.Tests.Audit;

public sealed class ArgumentRedactorTests
{
    private readonly ArgumentRedactor redactor = new();

    [Fact]
    public void Redact_SecretKeysAtAnyDepth_ValuesReplacedOthersKept()
    {
        var arguments = Json("""
            {
              "user": "bob",
              "password": "hunter2-S1",
              "config": {
                "API_KEY": "AKIA-S2",
                "retries": 3,
                "nested": [ { "Authorization": "Token S3" }, { "client-secret": { "value": "S4" } } ]
              },
              "headers": [ { "name": "X-Api-Key", "value": "S5" }, { "name": "Accept", "value": "text/plain" } ],
              "note": "Bearer eyJhbGciOiJIUzI1NiJ9.S6",
              "db": { "connectionString": "Host=db;Password=S7", "refreshToken": ["S8"], "x_auth": 1234509876 }
            }
            """);

        var redacted = redactor.Redact(arguments);

        for (var i = 1; i <= 8; i++)
        {
            Assert.DoesNotContain($"S{i}", redacted, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("hunter2", redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("1234509876", redacted, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(redacted);
        var root = document.RootElement;
        Assert.Equal("bob", root.GetProperty("user").GetString());
        Assert.Equal(ArgumentRedactor.Redacted, root.GetProperty("password").GetString());
        Assert.Equal(3, root.GetProperty("config").GetProperty("retries").GetInt32());
        Assert.Equal(ArgumentRedactor.Redacted, root.GetProperty("config").GetProperty("nested")[1].GetProperty("client-secret").GetString());
        Assert.Equal("text/plain", root.GetProperty("headers")[1].GetProperty("value").GetString());
        Assert.Equal("X-Api-Key", root.GetProperty("headers")[0].GetProperty("name").GetString());
        Assert.Equal(9, CountOf(redacted, ArgumentRedactor.Redacted));
    }

    [Theory]
    [InlineData("Password")]
    [InlineData("db.passwd")]
    [InlineData("clientSecret")]
    [InlineData("Api-Key")]
    [InlineData("apikey")]
    [InlineData("access_token")]
    [InlineData("Set-Cookie")]
    [InlineData("private_key")]
    [InlineData("AWS_SECRET_ACCESS_KEY")]
    [InlineData("credentials")]
    [InlineData("pwd")]
    [InlineData("basic_auth")]
    [InlineData("passphrase")]
    public void IsSecretKey_SecretLookingKey_True(string key) => Assert.True(redactor.IsSecretKey(key));

    [Theory]
    [InlineData("path")]
    [InlineData("author")]
    [InlineData("compass")]
    [InlineData("keyboard")]
    [InlineData("description")]
    [InlineData("passage")]
    public void IsSecretKey_OrdinaryKey_False(string key) => Assert.False(redactor.IsSecretKey(key));

    [Fact]
    public void IsSecretKey_AdditionalKeys_AlsoRedacted()
    {
        var custom = new ArgumentRedactor(new ArgumentRedactorOptions { AdditionalSecretKeys = ["ssn"] });

        var redacted = custom.Redact(Json("""{"customer":{"SSN":"078-05-1120"}}"""));

        Assert.Equal("""{"customer":{"SSN":"[redacted]"}}""", redacted);
    }

    [Fact]
    public void Redact_LongString_TruncatedWithMarker()
    {
        var custom = new ArgumentRedactor(new ArgumentRedactorOptions { MaxStringLength = 100 });

        var redacted = custom.Redact(Json($$"""{"content":"{{new string('x', 5000)}}","short":"kept"}"""));

        using var document = JsonDocument.Parse(redacted);
        Assert.Equal(new string('x', 100) + "…[truncated 4900 chars]", document.RootElement.GetProperty("content").GetString());
        Assert.Equal("kept", document.RootElement.GetProperty("short").GetString());
    }

    [Fact]
    public void Redact_HugeArray_StaysUnderTheSizeCapWithAMarker()
    {
        var custom = new ArgumentRedactor(new ArgumentRedactorOptions { MaxBytes = 4096 });
        var items = string.Join(",", Enumerable.Range(0, 10_000).Select(i => $$"""{"id":{{i}},"name":"item {{i}}"}"""));

        var redacted = custom.Redact(Json($$"""{"items":[{{items}}],"after":"x"}"""));

        Assert.True(Encoding.UTF8.GetByteCount(redacted) <= 4096, $"{Encoding.UTF8.GetByteCount(redacted)} bytes");
        using var document = JsonDocument.Parse(redacted);
        var array = document.RootElement.GetProperty("items");
        Assert.True(array.GetArrayLength() > 10);
        Assert.Matches(@"^\[truncated: \d+ more items\]$", array[array.GetArrayLength() - 1].GetString());
        Assert.Equal("1 more members", document.RootElement.GetProperty(ArgumentRedactor.TruncatedMember).GetString());
    }

    [Fact]
    public void Redact_ManyLongStrings_EveryOutputWithinTheCap()
    {
        var custom = new ArgumentRedactor(new ArgumentRedactorOptions { MaxBytes = 2048, MaxStringLength = 500 });
        for (var members = 1; members < 40; members += 3)
        {
            var json = "{" + string.Join(",", Enumerable.Range(0, members).Select(i => $$"""
                "k{{i}}":{"v":"{{new string('é', 700)}}","w":[1,2,"{{new string('y', 300)}}"]}
                """)) + "}";

            var redacted = custom.Redact(Json(json));

            Assert.True(Encoding.UTF8.GetByteCount(redacted) <= 2048, $"{members} members: {Encoding.UTF8.GetByteCount(redacted)} bytes");
            using var _ = JsonDocument.Parse(redacted);
        }
    }

    [Fact]
    public void Redact_DeepNesting_CappedWithMarker()
    {
        var custom = new ArgumentRedactor(new ArgumentRedactorOptions { MaxDepth = 3 });

        var redacted = custom.Redact(Json("""{"a":{"b":{"c":{"d":{"password":"p"}}}}}"""));

        Assert.Equal("""{"a":{"b":{"c":"[truncated: nested too deep]"}}}""", redacted);
    }

    [Fact]
    public void Redact_AbsentOrNullArguments_EmptyObject()
    {
        Assert.Equal("{}", redactor.Redact((JsonElement?)null));
        Assert.Equal("{}", redactor.Redact(Json("null")));
        Assert.Equal("{}", redactor.Redact((IEnumerable<KeyValuePair<string, JsonElement>>?)null));
    }

    [Fact]
    public void Redact_SdkArgumentMap_SameAsTheJsonObject()
    {
        var map = new Dictionary<string, JsonElement> { ["path"] = Json("\"/tmp/x\""), ["token"] = Json("\"t-S1\"") };

        Assert.Equal("""{"path":"/tmp/x","token":"[redacted]"}""", redactor.Redact(map));
    }

    [Fact]
    public void Redact_UnusualText_ValidJsonReadableAndNoFailure()
    {
        var redacted = redactor.Redact(Json("""{"lone":"a\ud800b","accents":"café <b>","nul":"x\u0000y","big":12345678901234567890123}"""));

        using var document = JsonDocument.Parse(redacted);
        Assert.Equal("café <b>", document.RootElement.GetProperty("accents").GetString());
        Assert.Equal("x\uFFFDy", document.RootElement.GetProperty("nul").GetString());
        Assert.Equal("12345678901234567890123", document.RootElement.GetProperty("big").GetRawText());
        Assert.Contains("a", document.RootElement.GetProperty("lone").GetString(), StringComparison.Ordinal);
    }

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
