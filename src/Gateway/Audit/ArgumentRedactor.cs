using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>
/// Turns a tool call's arguments into the JSON text the audit stores. The detector engine (secrets and PII in argument
/// values) will implement or wrap this; the audit depends only on this interface.
/// </summary>
public interface IArgumentRedactor
{
    /// <summary>Valid JSON text; absent arguments and JSON <c>null</c> give <c>{}</c>.</summary>
    string Redact(JsonElement? arguments);
}

/// <summary>Limits of <see cref="ArgumentRedactor"/>.</summary>
public sealed record ArgumentRedactorOptions
{
    /// <summary>Longer strings (and property names) keep this many characters and a marker saying how many were cut.</summary>
    public int MaxStringLength { get; init; } = 1024;

    /// <summary>The whole output stays within this many UTF-8 bytes; members past it are replaced by one marker.</summary>
    public int MaxBytes { get; init; } = 16 * 1024;

    /// <summary>Objects and arrays nested deeper than this are replaced by a marker.</summary>
    public int MaxDepth { get; init; } = 32;

    /// <summary>More key fragments that mark a secret (compared like the built-in ones: case and separators ignored).</summary>
    public IReadOnlyList<string> AdditionalSecretKeys { get; init; } = [];
}

/// <summary>
/// The built-in redaction: values under secret-looking keys (at any depth) become <c>"[redacted]"</c>, as do
/// <c>Bearer</c>/<c>Basic</c> credentials anywhere and the <c>value</c> of a <c>{"name": "Authorization", "value": …}</c>
/// pair; long strings are truncated, deep nesting and the total size are capped. Keys are compared without case and
/// separators, so <c>API-Key</c>, <c>api_key</c> and <c>apiKey</c> are one key.
/// </summary>
public sealed partial class ArgumentRedactor : IArgumentRedactor
{
    public const string Redacted = "[redacted]";
    public const string TruncatedMember = "[truncated]";

    // Contained anywhere in the normalized key: client_secret, X-Api-Key, refresh_token, db_password, Set-Cookie...
    private static readonly string[] SecretFragments =
    [
        "password", "passwd", "passphrase", "secret", "token", "apikey", "authorization", "credential", "cookie",
        "privatekey", "accesskey", "connectionstring", "sessionkey", "signingkey", "encryptionkey", "sshkey", "bearer",
    ];

    // Too short to search inside other words ("pass" is in "compass", "auth" in "author"): whole key or its ending only.
    private static readonly string[] SecretKeys = ["pwd", "pass", "otp", "jwt", "auth"];
    private static readonly string[] SecretSuffixes = ["auth", "pwd"];

    // Keys that name another member's meaning, as in [{"name": "Authorization", "value": "..."}] header lists.
    private static readonly string[] PairNameKeys = ["name", "key", "header", "field", "param", "parameter"];
    private static readonly string[] PairValueKeys = ["value", "val"];

    // Per level still open when the budget runs out: a separator, a marker and a closing bracket.
    private const int MarkerReserve = 48;

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Auditors read this text; non-ASCII stays readable. Consumers that render it as HTML must escape it anyway.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly ArgumentRedactorOptions _options;
    private readonly string[] _extraFragments;

    public ArgumentRedactor(ArgumentRedactorOptions? options = null)
    {
        _options = options ?? new ArgumentRedactorOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxStringLength, 16, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxDepth, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxBytes, (_options.MaxDepth + 2) * MarkerReserve, nameof(options));
        _extraFragments = _options.AdditionalSecretKeys.Select(Normalize).Where(k => k.Length > 0).ToArray();
    }

    public string Redact(JsonElement? arguments)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            if (arguments is not { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } value)
            {
                writer.WriteStartObject();
                writer.WriteEndObject();
            }
            else
            {
                new Pass(this, writer).WriteValue(value, depth: 0);
            }
        }

        // The budget leaves room for the markers of every open level, so this is a backstop, not the usual path.
        return buffer.WrittenCount <= _options.MaxBytes
            ? Encoding.UTF8.GetString(buffer.WrittenSpan)
            : $$"""{"{{TruncatedMember}}":"the arguments exceeded {{_options.MaxBytes}} bytes after redaction"}""";
    }

    /// <summary>Whether values under <paramref name="key"/> are redacted.</summary>
    public bool IsSecretKey(string key)
    {
        var normalized = Normalize(key);
        return normalized.Length > 0
            && (SecretFragments.Any(f => normalized.Contains(f, StringComparison.Ordinal))
                || _extraFragments.Any(f => normalized.Contains(f, StringComparison.Ordinal))
                || SecretKeys.Contains(normalized)
                || SecretSuffixes.Any(s => normalized.EndsWith(s, StringComparison.Ordinal)));
    }

    private static string Normalize(string key)
    {
        var builder = new StringBuilder(key.Length);
        foreach (var c in key)
        {
            if (char.IsLetterOrDigit(c))
            {
                builder.Append(char.ToLowerInvariant(c));
            }
        }

        return builder.ToString();
    }

    [GeneratedRegex(@"^\s*(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CredentialValue();

    /// <summary>One redaction: the writer and whether the size budget has run out.</summary>
    private sealed class Pass(ArgumentRedactor owner, Utf8JsonWriter writer)
    {
        private readonly ArgumentRedactorOptions _options = owner._options;
        private bool _exhausted;

        public void WriteValue(JsonElement value, int depth)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.Object or JsonValueKind.Array when depth >= _options.MaxDepth:
                    writer.WriteStringValue("[truncated: nested too deep]");
                    break;
                case JsonValueKind.Object:
                    WriteObject(value, depth);
                    break;
                case JsonValueKind.Array:
                    WriteArray(value, depth);
                    break;
                case JsonValueKind.String:
                    var text = AuditText.String(value);
                    writer.WriteStringValue(CredentialValue().IsMatch(text) ? Redacted : Truncate(text));
                    break;
                case JsonValueKind.Number:
                    var number = value.GetRawText();
                    if (number.Length > _options.MaxStringLength)
                    {
                        writer.WriteStringValue($"[truncated: a number of {number.Length} characters]");
                    }
                    else
                    {
                        writer.WriteRawValue(number, skipInputValidation: true);
                    }

                    break;
                case JsonValueKind.True or JsonValueKind.False:
                    writer.WriteBooleanValue(value.GetBoolean());
                    break;
                default:
                    writer.WriteNullValue();
                    break;
            }
        }

        private void WriteObject(JsonElement value, int depth)
        {
            var members = value.EnumerateObject().Select(m => (Name: AuditText.Name(m), m.Value)).ToList();
            var pairIsSecret = members.Any(m =>
                PairNameKeys.Contains(Normalize(m.Name)) && m.Value.ValueKind == JsonValueKind.String && owner.IsSecretKey(AuditText.String(m.Value)));
            writer.WriteStartObject();
            for (var i = 0; i < members.Count; i++)
            {
                var member = members[i];
                if (!Fits(depth, Math.Min(member.Name.Length, _options.MaxStringLength) + Estimate(member.Value)))
                {
                    writer.WriteString(TruncatedMember, $"{members.Count - i} more members");
                    break;
                }

                writer.WritePropertyName(Truncate(member.Name));
                if (owner.IsSecretKey(member.Name) || (pairIsSecret && PairValueKeys.Contains(Normalize(member.Name))))
                {
                    writer.WriteStringValue(Redacted);
                }
                else
                {
                    WriteValue(member.Value, depth + 1);
                }
            }

            writer.WriteEndObject();
        }

        private void WriteArray(JsonElement value, int depth)
        {
            var count = value.GetArrayLength();
            var index = 0;
            writer.WriteStartArray();
            foreach (var item in value.EnumerateArray())
            {
                if (!Fits(depth, Estimate(item)))
                {
                    writer.WriteStringValue($"[truncated: {count - index} more items]");
                    break;
                }

                WriteValue(item, depth + 1);
                index++;
            }

            writer.WriteEndArray();
        }

        /// <summary>Whether about <paramref name="size"/> more bytes fit, keeping room to close every open level.</summary>
        private bool Fits(int depth, int size)
        {
            if (!_exhausted)
            {
                var used = writer.BytesCommitted + writer.BytesPending;
                _exhausted = used + size + ((depth + 2) * MarkerReserve) > _options.MaxBytes;
            }

            return !_exhausted;
        }

        private int Estimate(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.Object or JsonValueKind.Array => 2,
            JsonValueKind.String => Math.Min(value.GetRawText().Length, (_options.MaxStringLength * 3) + 40),
            _ => Math.Min(value.GetRawText().Length, _options.MaxStringLength),
        } + 1;

        // Also replaces what Utf8JsonWriter cannot encode (a lone surrogate).
        private string Truncate(string text) => AuditText.Clean(text, _options.MaxStringLength);
    }
}

/// <summary>Redaction of arguments held as the MCP SDK holds them.</summary>
public static class ArgumentRedactorExtensions
{
    public static string Redact(this IArgumentRedactor redactor, IEnumerable<KeyValuePair<string, JsonElement>>? arguments)
    {
        if (arguments is null)
        {
            return redactor.Redact((JsonElement?)null);
        }

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in arguments)
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return redactor.Redact(document.RootElement);
    }
}
