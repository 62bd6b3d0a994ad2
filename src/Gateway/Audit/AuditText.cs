using System.Text;
using System.Text.Json;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>
/// Makes text storable as it is hashed. PostgreSQL text cannot hold U+0000 and Npgsql refuses invalid UTF-16, and one
/// such value in a batch would fail every record of it; so both become U+FFFD before the record is hashed.
/// </summary>
internal static class AuditText
{
    private const char Replacement = '\uFFFD';

    public static string? CleanOrNull(string? text, int maxLength) => text is null ? null : Clean(text, maxLength);

    public static string Clean(string text, int maxLength)
    {
        if (text.Length > maxLength)
        {
            var keep = char.IsHighSurrogate(text[maxLength - 1]) ? maxLength - 1 : maxLength;
            text = $"{text.AsSpan(0, keep)}…[truncated {text.Length - keep} chars]";
        }

        return NeedsCleaning(text) ? Replace(text) : text;
    }

    /// <summary>A property's name; one with an escaped lone surrogate (which cannot be decoded) as its token as written.</summary>
    public static string Name(JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            // JsonProperty.ToString() is the member as written, starting with the quoted name.
            var member = property.ToString();
            for (var i = 1; i < member.Length; i++)
            {
                if (member[i] == '\\')
                {
                    i++;
                }
                else if (member[i] == '"')
                {
                    return member[1..i];
                }
            }

            return member;
        }
    }

    /// <summary>A string value; one with an escaped lone surrogate as its token as written, without the quotes.</summary>
    public static string String(JsonElement value)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return value.GetRawText()[1..^1];
        }
    }

    // Vectorized checks first: surrogates are rare, so the exact pairing check is the slow path.
    private static bool NeedsCleaning(string text) =>
        text.Contains('\0', StringComparison.Ordinal)
        || (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0 && !Utf16Valid(text));

    private static bool Utf16Valid(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static string Replace(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[i + 1]);
                i++;
            }
            else
            {
                builder.Append(c == '\0' || char.IsSurrogate(c) ? Replacement : c);
            }
        }

        return builder.ToString();
    }
}
