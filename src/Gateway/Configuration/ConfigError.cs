using System.Globalization;
using System.Text;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>
/// One problem in a configuration file. <see cref="Field"/> is the dotted path (<c>upstreams.fs.command</c>);
/// empty for problems with the file as a whole, such as YAML syntax.
/// </summary>
public sealed record ConfigError(string File, int Line, int Column, string Field, string Message)
{
    public override string ToString() => Field.Length == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}: {Message}")
        : string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}: {Field}: {Message}");
}

/// <summary>The outcome of loading a file: a configuration when there are no errors, otherwise every error found.</summary>
public sealed record ConfigLoadResult
{
    public GatewayConfig? Config { get; init; }

    public IReadOnlyList<ConfigError> Errors { get; init; } = [];
}

/// <summary>The configuration could not be loaded at start; the message lists every error, one per line.</summary>
public sealed class GatewayConfigException : Exception
{
    public GatewayConfigException()
    {
    }

    public GatewayConfigException(string message)
        : base(message)
    {
    }

    public GatewayConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public GatewayConfigException(string path, IReadOnlyList<ConfigError> errors)
        : base(Describe(path, errors)) => Errors = errors;

    public IReadOnlyList<ConfigError> Errors { get; } = [];

    private static string Describe(string path, IReadOnlyList<ConfigError> errors)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"The gateway configuration {path} has {errors.Count} error(s):");
        foreach (var error in errors)
        {
            text.Append('\n').Append(error);
        }

        return text.ToString();
    }
}
