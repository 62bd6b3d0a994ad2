using System.Text;
using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>
/// Resolves <c>${env:NAME}</c> and <c>${file:/path}</c> references inside string values. Problems name the
/// reference only, never a resolved value.
/// </summary>
internal sealed partial class SecretReferences(string baseDirectory, Func<string, string?> environment)
{
    /// <summary>Returns the resolved text, or null with <paramref name="problem"/> set.</summary>
    public string? Resolve(string raw, out string? problem)
    {
        problem = null;
        if (!raw.Contains("${", StringComparison.Ordinal))
        {
            return raw;
        }

        var result = new StringBuilder();
        var position = 0;
        foreach (Match match in Reference().Matches(raw))
        {
            result.Append(raw, position, match.Index - position);
            position = match.Index + match.Length;
            var value = ResolveOne(match.Value, match.Groups["kind"].Value, match.Groups["name"].Value, out problem);
            if (value is null)
            {
                return null;
            }

            result.Append(value);
        }

        result.Append(raw, position, raw.Length - position);
        return result.ToString();
    }

    private string? ResolveOne(string reference, string kind, string name, out string? problem)
    {
        problem = null;
        switch (kind)
        {
            case "env" when name.Length > 0:
                var value = environment(name);
                if (value is null)
                {
                    problem = $"environment variable {name} is not set (referenced as {reference})";
                }

                return value;

            case "file" when name.Length > 0:
                var path = Path.GetFullPath(Path.Combine(baseDirectory, name));
                try
                {
                    // Secret files usually end with a newline that is not part of the secret.
                    return File.ReadAllText(path).TrimEnd('\r', '\n');
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    problem = e is FileNotFoundException or DirectoryNotFoundException
                        ? $"secret file {path} not found (referenced as {reference})"
                        : $"cannot read the secret file {path} (referenced as {reference}): {e.Message}";
                    return null;
                }

            default:
                problem = $"{reference} is not a secret reference; use ${{env:NAME}} or ${{file:/path}}";
                return null;
        }
    }

    [GeneratedRegex(@"\$\{(?:(?<kind>[a-z]+):)?(?<name>[^}]*)\}")]
    private static partial Regex Reference();
}
