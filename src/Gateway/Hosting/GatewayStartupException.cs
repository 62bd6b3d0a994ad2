namespace ApprovalEngine.Gateway.Hosting;

/// <summary>
/// A startup problem the operator can fix (configuration, missing binaries, an unusable data directory).
/// Its message is written to stderr as is, without a stack trace, and the process exits with code 1.
/// </summary>
public sealed class GatewayStartupException : Exception
{
    public GatewayStartupException(string message)
        : base(message)
    {
    }

    public GatewayStartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
