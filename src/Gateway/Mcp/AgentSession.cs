using System.Security.Cryptography;
using Microsoft.AspNetCore.WebUtilities;
using ModelContextProtocol.Server;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// A 2025-11-25 Streamable HTTP session: its transport, its MCP server, and how busy it is. Requests hold a
/// lease while they run, so the idle sweeper only closes sessions nobody is using.
/// </summary>
internal sealed class AgentSession : IAsyncDisposable
{
    private readonly CancellationTokenSource closed = new();
    private readonly TimeProvider time;
    private int active;
    private int getStreamOpen;
    private long lastActivity;
    private int disposed;

    public AgentSession(AgentScope scope, StreamableHttpServerTransport transport, McpServer server, TimeProvider time)
    {
        Scope = scope;
        Transport = transport;
        Server = server;
        this.time = time;
        lastActivity = time.GetTimestamp();
        RunTask = server.RunAsync(closed.Token);
    }

    public string Id => Scope.SessionId!;

    public AgentScope Scope { get; }

    public StreamableHttpServerTransport Transport { get; }

    public McpServer Server { get; }

    public Task RunTask { get; }

    public CancellationToken Closed => closed.Token;

    public bool IsIdleLongerThan(TimeSpan timeout) =>
        Volatile.Read(ref active) == 0 && time.GetElapsedTime(Volatile.Read(ref lastActivity)) > timeout;

    /// <summary>16 random bytes, base64url: unguessable, and visible ASCII as the header requires.</summary>
    public static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return WebEncoders.Base64UrlEncode(bytes);
    }

    public Lease Acquire()
    {
        Interlocked.Increment(ref active);
        Volatile.Write(ref lastActivity, time.GetTimestamp());
        return new Lease(this);
    }

    /// <summary>Only one standalone GET stream per session: a second would race the first for the same messages.</summary>
    public bool TryOpenGetStream() => Interlocked.Exchange(ref getStreamOpen, 1) == 0;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        await Transport.DisposeAsync();
        await closed.CancelAsync();
        try
        {
            await RunTask;
        }
        catch (OperationCanceledException)
        {
            // RunAsync ends by cancellation when the session closes: that is its normal end.
        }
        finally
        {
            await Server.DisposeAsync();
            closed.Dispose();
        }
    }

    public readonly struct Lease(AgentSession session) : IDisposable
    {
        public void Dispose()
        {
            Volatile.Write(ref session.lastActivity, session.time.GetTimestamp());
            Interlocked.Decrement(ref session.active);
        }
    }
}
