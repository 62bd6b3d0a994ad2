using System.ComponentModel;
using System.Globalization;
using System.Net.Http;
using System.Net.Sockets;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace ApprovalEngine.Gateway.Upstreams;

/// <summary>
/// Turns failures into text that is safe to show agents and to log: built from exception types, status codes and
/// exit codes, never from messages an exception carries, because those can quote an upstream's stderr, a header
/// value (the SDK names rejected headers with their values) or a URL with credentials in it.
/// </summary>
internal static class UpstreamErrors
{
    public static string Describe(Exception exception) => exception switch
    {
        OAuthTokenException e => e.Message,
        ClientTransportClosedException { Details: StdioClientCompletionDetails { ExitCode: { } code } } => $"the process exited with code {code}",
        ClientTransportClosedException { Details: HttpClientCompletionDetails { HttpStatusCode: { } status } } => $"the server closed the session (HTTP {(int)status})",
        ClientTransportClosedException => "the connection closed",
        McpProtocolException e => $"the server answered with JSON-RPC error {(int)e.ErrorCode}",
        HttpRequestException { StatusCode: { } status } => $"the server answered HTTP {(int)status} {status}",
        HttpRequestException { InnerException: SocketException s } => $"cannot connect ({s.SocketErrorCode})",
        HttpRequestException { HttpRequestError: var error } => $"the HTTP request failed ({error})",
        Win32Exception e => $"cannot start the process ({Describe(e.NativeErrorCode)})",
        TimeoutException => "the server did not answer in time",
        OperationCanceledException => "the operation was cancelled",
        IOException { InnerException: { } inner } => Describe(inner),
        IOException => "the connection failed",
        McpException => "the server broke off the exchange",
        _ => $"unexpected {exception.GetType().Name}",
    };

    /// <summary>Describes how a session ended, from the details the SDK reports when it completes.</summary>
    public static string DescribeCompletion(ClientCompletionDetails details) => details switch
    {
        StdioClientCompletionDetails { ExitCode: { } code } => $"the process exited with code {code}",
        StdioClientCompletionDetails => "the process exited",
        HttpClientCompletionDetails { HttpStatusCode: { } status } => $"the server closed the session (HTTP {(int)status})",
        { Exception: { } e } => Describe(e),
        _ => "the connection closed",
    };

    /// <summary>30 s as "30s", 1.5 s as "1.5s", 200 ms as "200ms": short, and exact for the values people configure.</summary>
    public static string Format(TimeSpan duration) => duration < TimeSpan.FromSeconds(1)
        ? string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMilliseconds:0.###}ms")
        : string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.###}s");

    /// <summary>
    /// Whether a failed request means the session is broken (reconnect) rather than that the upstream refused the
    /// request. Only a JSON-RPC error the upstream sent (<see cref="McpProtocolException"/>) is an answer; the SDK
    /// throws a plain <see cref="McpException"/> for transport trouble, such as an HTTP response stream that ended
    /// without a reply because the server died.
    /// </summary>
    public static bool IsConnectionFailure(Exception exception) =>
        exception is IOException or HttpRequestException or ObjectDisposedException or OAuthTokenException
            or (McpException and not McpProtocolException);

    private static string Describe(int errno) => errno switch
    {
        2 => "no such file or directory",
        13 => "permission denied",
        8 => "not an executable",
        _ => $"errno {errno}",
    };
}
