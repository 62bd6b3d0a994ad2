namespace ApprovalEngine.Cli;

/// <summary>The CLI's exit codes. Scripts depend on them: never renumber one, only add new ones.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The command ran and its answer is "no": <c>verify</c> found a broken chain.</summary>
    public const int CheckFailed = 1;

    /// <summary>Bad arguments: an unknown option, a missing value, JSON that does not parse, a request the gateway calls malformed (400).</summary>
    public const int Usage = 2;

    /// <summary>Not logged in, the token was refused (401), or the person may not do this (403).</summary>
    public const int NotAuthorized = 3;

    public const int NotFound = 4;

    /// <summary>The request conflicts with the approval's state (409): already decided, already voted, deadline passed.</summary>
    public const int Conflict = 5;

    /// <summary>No connection, a timeout, or an answer that is not the gateway's API (a redirect, HTML).</summary>
    public const int Unreachable = 6;

    /// <summary><c>config validate</c> found errors in the file.</summary>
    public const int ConfigInvalid = 7;

    /// <summary>The gateway failed (5xx) or answered with a status the CLI does not expect.</summary>
    public const int ServerError = 10;

    public static IReadOnlyList<(int Code, string Meaning)> All { get; } =
    [
        (Ok, "success"),
        (CheckFailed, "verify: an audit chain is broken (also an unexpected internal error)"),
        (Usage, "usage error: bad option or argument, unreadable input file, or the gateway answered 400"),
        (NotAuthorized, "not logged in, token refused (401) or not permitted (403)"),
        (NotFound, "not found (404): no such approval, agent or tool"),
        (Conflict, "conflict (409): already decided, already voted, deadline passed"),
        (Unreachable, "cannot reach the gateway (connection, timeout, not the gateway's API)"),
        (ConfigInvalid, "config validate: the configuration has errors"),
        (ServerError, "the gateway failed (5xx) or answered unexpectedly"),
    ];

    /// <summary>The exit code for an HTTP error status from the gateway.</summary>
    public static int ForStatus(int status) => status switch
    {
        400 or 422 => Usage,
        401 or 403 => NotAuthorized,
        404 => NotFound,
        409 => Conflict,
        _ => ServerError,
    };
}

/// <summary>A command failed in a way the user can act on; the message goes to standard error, the code is the exit code.</summary>
public sealed class CliFailure : Exception
{
    public CliFailure()
    {
    }

    public CliFailure(string message)
        : base(message)
    {
    }

    public CliFailure(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public CliFailure(int exitCode, string message, Exception? innerException = null)
        : base(message, innerException) => ExitCode = exitCode;

    public int ExitCode { get; } = ExitCodes.Usage;
}
