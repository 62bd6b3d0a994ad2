using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>Personal data: e-mail addresses, payment cards, IBANs, US social security numbers, phone numbers.</summary>
public static partial class Detectors
{
    // A domain needs a dot and a letters-only top level, so "lodash@4.17.21", "user@localhost" and "nginx@sha256:..."
    // are not addresses; nor are a URL's user-info and host ("https://token:x@github.com") or an scp-style target
    // ("git@github.com:owner/repo.git"). Parts are length-bounded (64 for the local part, 63 per label) as in the RFCs.
    [GeneratedRegex(@"(?<![A-Za-z0-9._%+-]|://[^\s/?#@]{0,256})[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-]|:[\w/~])", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex Email();

    // 13 to 19 digits in a row, or grouped as cards are printed: 4-4-4-4(-3) or 4-6-5 / 4-6-4, one separator kind.
    // Not inside a longer token or a decimal number.
    [GeneratedRegex("""
        (?<![0-9A-Za-z.])
        (?:[0-9]{13,19}
         | [0-9]{4}(?<s>[ -])[0-9]{4}\k<s>[0-9]{4}\k<s>[0-9]{4}(?<tail>\k<s>[0-9]{3})?
         | [0-9]{4}(?<a>[ -])[0-9]{6}\k<a>[0-9]{4,5})
        (?![0-9A-Za-z]|\.[0-9])
        """, Exact | RegexOptions.IgnorePatternWhitespace, MatchTimeoutMilliseconds)]
    private static partial Regex CardShape();

    // Country, check digits, then the account part in groups of four with optional single spaces. Either case: forms
    // take them in lower case too, and the country, its length and mod 97 leave an identifier of this shape a
    // chance of about one in a hundred per matching country.
    [GeneratedRegex(@"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?(?![A-Za-z0-9])", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex IbanShape();

    // AAA-GG-SSSS. Never issued: area 000, 666 and 900-999, group 00, serial 0000.
    [GeneratedRegex(@"(?<![\w-])(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![\w-])", Exact, MatchTimeoutMilliseconds)]
    private static partial Regex UsSsn();

    // International numbers start with "+" and a country code, written together or in separated groups. North American
    // numbers are taken only in their usual punctuated forms, with area code and exchange starting 2-9; plain runs of
    // digits are left alone (they are as often order numbers and ids). Dates, times, versions and IPv4 addresses
    // never have these shapes, and a number that continues with another ".n" or "-n" group is not one either.
    [GeneratedRegex("""
        (?<![\w+])\+[1-9][0-9]{0,14}(?:[ .-]?\([0-9]{1,5}\)|[ .-][0-9]{1,12}){0,6}(?!\w|[.-][0-9])
        | (?<![\w+.-])(?:1[ .-]?)?
          (?:\([2-9][0-9]{2}\)[ ]?[2-9][0-9]{2}-[0-9]{4}
           | [2-9][0-9]{2}-[2-9][0-9]{2}-[0-9]{4}
           | [2-9][0-9]{2}\.[2-9][0-9]{2}\.[0-9]{4})
          (?!\w|[.-][0-9])
        """, Exact | RegexOptions.IgnorePatternWhitespace, MatchTimeoutMilliseconds)]
    private static partial Regex PhoneShape();

    // The patterns try every word or digit as a start; a vectorized look for the one character all matches contain
    // skips the text that cannot hold any.
    private static void FindEmails(string text, string detector, List<Finding> candidates)
    {
        if (text.Contains('@', StringComparison.Ordinal))
        {
            AddMatches(Email(), text, detector, candidates);
        }
    }

    private static void FindIbans(string text, string detector, List<Finding> candidates)
    {
        if (HasDigit(text))
        {
            AddMatches(IbanShape(), text, detector, candidates, m => Checksums.IsIban(Compact(m.ValueSpan, stackalloc char[m.Length])));
        }
    }

    private static void FindUsSsns(string text, string detector, List<Finding> candidates)
    {
        if (HasDigit(text))
        {
            AddMatches(UsSsn(), text, detector, candidates);
        }
    }

    private static void FindPhones(string text, string detector, List<Finding> candidates)
    {
        if (HasDigit(text))
        {
            AddMatches(PhoneShape(), text, detector, candidates, IsPhoneNumber);
        }
    }

    private static bool HasDigit(string text) => text.AsSpan().ContainsAnyInRange('0', '9');

    /// <summary>Cards with a three-digit tail (4-4-4-4-3) that fail as 19 digits are tried as the 16 before the tail.</summary>
    private static void FindCards(string text, string detector, List<Finding> candidates)
    {
        var at = HasDigit(text) ? 0 : text.Length;
        Span<char> digits = stackalloc char[19];
        while (at < text.Length)
        {
            var match = CardShape().Match(text, at);
            if (!match.Success)
            {
                return;
            }

            var all = Digits(match.ValueSpan, digits);
            var tail = match.Groups["tail"];
            var length = Checksums.IsCardNumber(all) ? match.Length
                : tail.Success && Checksums.IsCardNumber(all[..16]) ? tail.Index - match.Index
                : 0;
            if (length > 0)
            {
                candidates.Add(new Finding(detector, match.Index, length));
                at = match.Index + length;
            }
            else
            {
                at = match.Index + 1;
            }
        }
    }

    /// <summary>
    /// 8 to 15 digits (the E.164 range); at least 10 when written without separators, and at least three distinct
    /// digits, so "+100000000" and "+12345678" in a changelog are counts, not numbers to call.
    /// </summary>
    private static bool IsPhoneNumber(Match match)
    {
        Span<char> buffer = stackalloc char[match.Length];
        var digits = Digits(match.ValueSpan, buffer);
        var separated = digits.Length != match.Length - (match.ValueSpan[0] == '+' ? 1 : 0);
        if (digits.Length is < 8 or > 15 || (!separated && digits.Length < 10))
        {
            return false;
        }

        var seen = 0;
        foreach (var d in digits)
        {
            seen |= 1 << (d - '0');
        }

        return int.PopCount(seen) >= 3;
    }

    private static Span<char> Digits(ReadOnlySpan<char> value, Span<char> buffer)
    {
        var n = 0;
        foreach (var c in value)
        {
            if (char.IsAsciiDigit(c) && n < buffer.Length)
            {
                buffer[n++] = c;
            }
        }

        return buffer[..n];
    }

    /// <summary>An IBAN as the checksum reads it: no spaces, upper case.</summary>
    private static ReadOnlySpan<char> Compact(ReadOnlySpan<char> value, Span<char> buffer)
    {
        var n = 0;
        foreach (var c in value)
        {
            if (c != ' ')
            {
                buffer[n++] = char.ToUpperInvariant(c);
            }
        }

        return buffer[..n];
    }
}
