using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>
/// The digest of a tool call's arguments: <c>sha256:</c> and 64 lowercase hex digits over a canonical JSON form, so two
/// calls with the same arguments have the same digest however the client ordered or spaced them. The digest is stored
/// in the audit and binds an approval to the exact arguments it approved, so this form must never change; a new form
/// would need a new prefix.
/// </summary>
/// <remarks>
/// The canonical form (close to RFC 8785, except for numbers):
/// <list type="bullet">
/// <item>no whitespace; object members sorted by name, ordinally by UTF-16 code unit (members with equal names keep their order);</item>
/// <item>numbers exactly as the client wrote them (<c>1</c>, <c>1.0</c> and <c>1e0</c> differ: a tool may tell them apart);</item>
/// <item>strings by their decoded value: <c>\"</c>, <c>\\</c>, <c>\b \f \n \r \t</c>, other controls as <c>\u00xx</c>, a lone
/// surrogate as <c>\udxxx</c> (lowercase hex), everything else as UTF-8, so <c>"\u0041"</c> equals <c>"A"</c>;</item>
/// <item>absent arguments and a JSON <c>null</c> are the empty object <c>{}</c>: MCP treats a call without arguments as one with none.</item>
/// </list>
/// </remarks>
public static class ArgumentDigest
{
    public const string Prefix = "sha256:";

    /// <summary>The digest of <paramref name="arguments"/> (null, <c>null</c> and <c>{}</c> share one).</summary>
    public static string Compute(JsonElement? arguments) => Digest(Canonicalize(arguments));

    /// <summary>The digest of arguments held as the MCP SDK holds them (a name-to-value map), equal to the JSON object's.</summary>
    public static string Compute(IEnumerable<KeyValuePair<string, JsonElement>>? arguments) => Digest(Canonicalize(arguments));

    /// <summary>The canonical UTF-8 bytes the digest is computed over.</summary>
    public static byte[] Canonicalize(JsonElement? arguments)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        if (arguments is not { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } value)
        {
            WriteAscii(buffer, "{}");
        }
        else
        {
            WriteValue(buffer, value);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <inheritdoc cref="Canonicalize(JsonElement?)"/>
    public static byte[] Canonicalize(IEnumerable<KeyValuePair<string, JsonElement>>? arguments)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        WriteObject(buffer, (arguments ?? []).Select(a => new Member(a.Key, RawName: false, a.Value)));
        return buffer.WrittenSpan.ToArray();
    }

    private static string Digest(byte[] canonical) => Prefix + Convert.ToHexStringLower(SHA256.HashData(canonical));

    private static void WriteValue(ArrayBufferWriter<byte> buffer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                WriteObject(buffer, value.EnumerateObject().Select(Member.From));
                break;
            case JsonValueKind.Array:
                buffer.Write("["u8);
                var first = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!first)
                    {
                        buffer.Write(","u8);
                    }

                    first = false;
                    WriteValue(buffer, item);
                }

                buffer.Write("]"u8);
                break;
            case JsonValueKind.String:
                WriteString(buffer, value);
                break;
            case JsonValueKind.Number:
                WriteUtf8(buffer, value.GetRawText());
                break;
            case JsonValueKind.True:
                buffer.Write("true"u8);
                break;
            case JsonValueKind.False:
                buffer.Write("false"u8);
                break;
            default:
                buffer.Write("null"u8);
                break;
        }
    }

    private static void WriteObject(ArrayBufferWriter<byte> buffer, IEnumerable<Member> members)
    {
        buffer.Write("{"u8);
        var first = true;

        // OrderBy is stable, so members sharing a name keep the client's order.
        foreach (var member in members.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            if (!first)
            {
                buffer.Write(","u8);
            }

            first = false;
            if (member.RawName)
            {
                WriteUtf8(buffer, member.Name);
            }
            else
            {
                WriteString(buffer, member.Name);
            }

            buffer.Write(":"u8);
            WriteValue(buffer, member.Value);
        }

        buffer.Write("}"u8);
    }

    private static void WriteString(ArrayBufferWriter<byte> buffer, JsonElement value)
    {
        string text;
        try
        {
            text = value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate System.Text.Json will not decode: its token as written is still a stable,
            // distinct form of the value.
            WriteUtf8(buffer, value.GetRawText());
            return;
        }

        WriteString(buffer, text);
    }

    private static void WriteString(ArrayBufferWriter<byte> buffer, ReadOnlySpan<char> text)
    {
        buffer.Write("\""u8);
        Span<byte> utf8 = stackalloc byte[4];
        while (!text.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(text, out var rune, out var consumed) != OperationStatus.Done)
            {
                WriteAscii(buffer, "\\u" + ((int)text[0]).ToString("x4", CultureInfo.InvariantCulture));
                text = text[1..];
                continue;
            }

            text = text[consumed..];
            switch (rune.Value)
            {
                case '"':
                    buffer.Write("\\\""u8);
                    break;
                case '\\':
                    buffer.Write("\\\\"u8);
                    break;
                case '\b':
                    buffer.Write("\\b"u8);
                    break;
                case '\f':
                    buffer.Write("\\f"u8);
                    break;
                case '\n':
                    buffer.Write("\\n"u8);
                    break;
                case '\r':
                    buffer.Write("\\r"u8);
                    break;
                case '\t':
                    buffer.Write("\\t"u8);
                    break;
                case < 0x20:
                    WriteAscii(buffer, "\\u" + rune.Value.ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default:
                    buffer.Write(utf8[..rune.EncodeToUtf8(utf8)]);
                    break;
            }
        }

        buffer.Write("\""u8);
    }

    private static void WriteAscii(ArrayBufferWriter<byte> buffer, string ascii) => buffer.Write(Encoding.ASCII.GetBytes(ascii));

    private static void WriteUtf8(ArrayBufferWriter<byte> buffer, string text) => buffer.Write(Encoding.UTF8.GetBytes(text));

    /// <summary>An object member; <see cref="RawName"/>: <see cref="Name"/> is the name token as written, quotes included.</summary>
    private readonly record struct Member(string Name, bool RawName, JsonElement Value)
    {
        public static Member From(JsonProperty property)
        {
            try
            {
                return new Member(property.Name, RawName: false, property.Value);
            }
            catch (InvalidOperationException)
            {
                // A name with an escaped lone surrogate cannot be decoded: keep its token as written, like a value that
                // cannot be decoded. The MCP SDK cannot produce such a name (its argument map has decoded keys); a raw
                // JsonElement can.
                return new Member($"\"{AuditText.Name(property)}\"", RawName: true, property.Value);
            }
        }
    }
}
