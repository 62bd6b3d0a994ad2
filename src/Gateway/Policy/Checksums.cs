using System.Collections.Frozen;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>The check-digit schemes that tell a card number or an IBAN from any other run of digits.</summary>
internal static class Checksums
{
    // Issuer ranges (IIN prefixes) and the lengths each brand issues. Luhn alone accepts one random number in ten;
    // with the prefix and length rules an order number or a timestamp that happens to pass is rarely taken for a card.
    private static readonly (int Low, int High, int Digits, int MinLength, int MaxLength)[] CardRanges =
    [
        (4, 4, 1, 13, 19),             // Visa
        (51, 55, 2, 16, 16),           // Mastercard
        (2221, 2720, 4, 16, 16),       // Mastercard 2-series
        (34, 34, 2, 15, 15),           // American Express
        (37, 37, 2, 15, 15),
        (300, 305, 3, 14, 19),         // Diners Club
        (36, 36, 2, 14, 19),
        (38, 39, 2, 14, 19),
        (6011, 6011, 4, 16, 19),       // Discover
        (644, 649, 3, 16, 19),
        (65, 65, 2, 16, 19),
        (3528, 3589, 4, 16, 19),       // JCB
        (62, 62, 2, 16, 19),           // UnionPay
        (2200, 2204, 4, 16, 19),       // Mir
        (50, 50, 2, 13, 19),           // Maestro
        (56, 58, 2, 13, 19),
        (639, 639, 3, 13, 19),
        (67, 67, 2, 13, 19),
    ];

    // ISO 13616 registry: the full IBAN length of each country that issues them.
    private static readonly FrozenDictionary<string, int> IbanLengths = new Dictionary<string, int>
    {
        ["AD"] = 24, ["AE"] = 23, ["AL"] = 28, ["AT"] = 20, ["AZ"] = 28, ["BA"] = 20, ["BE"] = 16, ["BG"] = 22,
        ["BH"] = 22, ["BR"] = 29, ["CH"] = 21, ["CR"] = 22, ["CY"] = 28, ["CZ"] = 24, ["DE"] = 22, ["DK"] = 18,
        ["DO"] = 28, ["EE"] = 20, ["EG"] = 29, ["ES"] = 24, ["FI"] = 18, ["FO"] = 18, ["FR"] = 27, ["GB"] = 22,
        ["GE"] = 22, ["GI"] = 23, ["GL"] = 18, ["GR"] = 27, ["GT"] = 28, ["HR"] = 21, ["HU"] = 28, ["IE"] = 22,
        ["IL"] = 23, ["IS"] = 26, ["IT"] = 27, ["JO"] = 30, ["KW"] = 30, ["KZ"] = 20, ["LB"] = 28, ["LI"] = 21,
        ["LT"] = 20, ["LU"] = 20, ["LV"] = 21, ["MC"] = 27, ["MD"] = 24, ["ME"] = 22, ["MK"] = 19, ["MR"] = 27,
        ["MT"] = 31, ["MU"] = 30, ["NL"] = 18, ["NO"] = 15, ["PK"] = 24, ["PL"] = 28, ["PS"] = 29, ["PT"] = 25,
        ["QA"] = 29, ["RO"] = 24, ["RS"] = 22, ["SA"] = 24, ["SE"] = 24, ["SI"] = 19, ["SK"] = 24, ["SM"] = 27,
        ["TN"] = 24, ["TR"] = 26, ["UA"] = 29, ["VG"] = 24, ["XK"] = 20,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> IbanLengthsBySpan =
        IbanLengths.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>The Luhn check (ISO/IEC 7812-1) over a string of ASCII digits; false for anything else.</summary>
    public static bool IsLuhnValid(ReadOnlySpan<char> digits)
    {
        if (digits.IsEmpty)
        {
            return false;
        }

        var sum = 0;
        var doubled = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            if (!char.IsAsciiDigit(digits[i]))
            {
                return false;
            }

            var d = digits[i] - '0';
            if (doubled)
            {
                d = d * 2 > 9 ? (d * 2) - 9 : d * 2;
            }

            sum += d;
            doubled = !doubled;
        }

        return sum % 10 == 0;
    }

    /// <summary>Whether ASCII digits are a card number: a known issuer range, a length that issuer uses, and Luhn.</summary>
    public static bool IsCardNumber(ReadOnlySpan<char> digits)
    {
        if (digits.Length is < 13 or > 19 || !IsLuhnValid(digits))
        {
            return false;
        }

        foreach (var (low, high, prefixDigits, minLength, maxLength) in CardRanges)
        {
            var prefix = int.Parse(digits[..prefixDigits], provider: System.Globalization.CultureInfo.InvariantCulture);
            if (prefix >= low && prefix <= high && digits.Length >= minLength && digits.Length <= maxLength)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether an IBAN without spaces is valid: a country that issues IBANs, that country's length, and the ISO 7064
    /// mod-97 check (the number read with its first four characters moved to the end, letters as 10 to 35, is 1 mod 97).
    /// </summary>
    public static bool IsIban(ReadOnlySpan<char> iban)
    {
        if (iban.Length < 5 || !IbanLengthsBySpan.TryGetValue(iban[..2], out var length) || iban.Length != length
            || !char.IsAsciiDigit(iban[2]) || !char.IsAsciiDigit(iban[3]))
        {
            return false;
        }

        var remainder = 0;
        for (var i = 0; i < iban.Length; i++)
        {
            var c = iban[(i + 4) % iban.Length];
            if (char.IsAsciiDigit(c))
            {
                remainder = ((remainder * 10) + (c - '0')) % 97;
            }
            else if (char.IsAsciiLetterUpper(c))
            {
                remainder = ((remainder * 100) + (c - 'A' + 10)) % 97;
            }
            else
            {
                return false;
            }
        }

        return remainder == 1;
    }
}
