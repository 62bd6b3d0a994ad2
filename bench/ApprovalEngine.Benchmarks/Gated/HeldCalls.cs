using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using ApprovalEngine.Benchmarks.Gateway;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Benchmarks.Gated;

/// <summary>A call the gateway holds: its approval, and the agent's pending tools/call.</summary>
public sealed record HeldCall(Guid Id, string Text, Task<CallToolResult> Result);

/// <summary>One decision on a held call: from sending it to the held call's answer, and to the decision's own HTTP answer (ticks).</summary>
public readonly record struct DecisionTiming(long ToResult, long ToDecisionAnswer);

/// <summary>
/// Gated calls as an agent makes them, on the sessions of one <see cref="McpTarget"/>: every call has arguments of its
/// own (the same arguments would join the same approval), and asks for progress, whose first notification names the
/// approval; that notification is sent just before the gateway starts waiting, so "held" is exact.
/// </summary>
public sealed class HeldCalls(McpTarget target)
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private long _next;

    /// <summary>Starts a gated call on session <paramref name="client"/>; returns once the gateway holds it.</summary>
    public async Task<HeldCall> HoldAsync(int client, CancellationToken ct)
    {
        var arguments = GatedCluster.GatedArguments($"{_run}-{Interlocked.Increment(ref _next)}");
        var signal = new HoldSignal();
        var call = target.CallToolAsync(client, arguments, signal, ct);
        if (await Task.WhenAny(signal.Id, call) == call)
        {
            throw new InvalidOperationException($"A gated call was answered before it was held: {Text(await call)}");
        }

        return new HeldCall(await signal.Id, (string)arguments["text"]!, call);
    }

    /// <summary>Sends <paramref name="decision"/> for <paramref name="held"/> to <paramref name="node"/> and waits for the held call's answer, which must be that decision's.</summary>
    public static async Task<DecisionTiming> DecideAsync(HeldCall held, Approver approver, Uri node, string decision, CancellationToken ct)
    {
        var sent = Stopwatch.GetTimestamp();
        var answered = approver.DecideAsync(node, held.Id, decision, ct);
        var result = await held.Result.WaitAsync(ct);
        var returned = Stopwatch.GetTimestamp();
        var decided = await answered;
        Check(held, result, decision);
        return new DecisionTiming(returned - sent, decided - sent);
    }

    /// <summary>An approved call answers with the upstream's echo; a denied one with a refusal that says so.</summary>
    public static void Check(HeldCall held, CallToolResult result, string decision)
    {
        var text = Text(result);
        var expected = decision == Approver.Approve ? result.IsError != true && text == held.Text : result.IsError == true && text.Contains("was denied", StringComparison.Ordinal);
        if (!expected)
        {
            throw new InvalidOperationException($"Approval {held.Id} ({decision}): the held call answered {(result.IsError == true ? "an error" : "a result")}: {text}");
        }
    }

    private static string Text(CallToolResult result) => result.Content.OfType<TextContentBlock>().FirstOrDefault()?.Text ?? "(no text)";
}

/// <summary>The approval id from the first progress notification of a held call: "Waiting for approval {id} from …".</summary>
internal sealed partial class HoldSignal : IProgress<ProgressNotificationValue>
{
    private readonly TaskCompletionSource<Guid> _id = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<Guid> Id => _id.Task;

    public void Report(ProgressNotificationValue value)
    {
        if (value.Message is { } message && ApprovalId().Match(message) is { Success: true } match)
        {
            _id.TrySetResult(Guid.Parse(match.Groups[1].ValueSpan));
        }
    }

    [GeneratedRegex(@"^Waiting for approval ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) ")]
    private static partial Regex ApprovalId();
}

/// <summary>The approver: decisions over the gateway's approvals API with a person's token, on whichever node is asked.</summary>
public sealed class Approver(string token) : IDisposable
{
    public const string Approve = "approve";
    public const string Deny = "deny";

    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = int.MaxValue, AutomaticDecompression = DecompressionMethods.None })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>POST /api/approvals/{id}/{decision}; returns the <see cref="Stopwatch"/> timestamp of the answer, which must be 200.</summary>
    public async Task<long> DecideAsync(Uri node, Guid id, string decision, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node, $"/api/approvals/{id:D}/{decision}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request, ct);
        var answered = Stopwatch.GetTimestamp();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"{decision} of approval {id} on {node}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }

        return answered;
    }

    public void Dispose() => _http.Dispose();
}
