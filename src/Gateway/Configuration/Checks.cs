using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>Value checks shared by the section mappers.</summary>
internal static partial class Checks
{
    public static string? HttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? null
            : "must be an absolute http or https URL";

    public static string? Origin(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && uri.AbsolutePath == "/" && !value.EndsWith('/') && uri.Query.Length == 0
            ? null
            : "must be an origin: scheme://host[:port], with no path";

    public static string? Host(string value) => HostPattern().IsMatch(value) ? null : "must be a host name, optionally with :port";

    public static string? Email(string value) => EmailPattern().IsMatch(value) ? null : "must be an email address";

    /// <summary>Names of upstreams, agents, bundles and groups: they appear in tool names and URLs.</summary>
    public static string? Name(string value) =>
        NamePattern().IsMatch(value) ? null : "must be 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit";

    public static string? Glob(string value) => value.Length > 0 && !value.Any(char.IsWhiteSpace) ? null : "must be a non-empty glob without spaces";

    public static string? ToolSeparator(string value) =>
        value.Length is >= 1 and <= 8 && value.All(c => c is '_' or '-' or '.')
            ? null
            : "must be 1-8 of the characters '_', '-' and '.' (they are valid in MCP tool names and not letters)";

    public static bool HasWildcard(string value) => value.AsSpan().IndexOfAny('*', '?') >= 0;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[^@\s<>,;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")]
    private static partial Regex EmailPattern();

    [GeneratedRegex(@"^(\*\.)?([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")]
    private static partial Regex HostPattern();
}
