using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace ApprovalEngine.Benchmarks.SessionLoad;

/// <summary>
/// A person who approves everything as fast as the API lets them: lists every pending approval
/// (<c>GET /api/approvals?status=pending</c>, page after page) and approves each, oldest first
/// (<c>POST /api/approvals/{id}/approve</c>), a few at a time, until stopped. What it costs the gateway is part of
/// what the load measures.
/// </summary>
public sealed class AutoApprover : IAsyncDisposable
{
    private const int Page = 1000;
    private static readonly TimeSpan IdlePause = TimeSpan.FromMilliseconds(20);

    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = int.MaxValue, AutomaticDecompression = DecompressionMethods.None })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    private readonly Uri _baseUrl;
    private readonly string _token;
    private readonly int _parallel;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _approved;
    private long _refused;
    private long _failures;
    private long _lists;

    public AutoApprover(Uri baseUrl, string token, int parallel)
    {
        _baseUrl = baseUrl;
        _token = token;
        _parallel = parallel;
        _loop = Task.Run(LoopAsync);
    }

    public long Approved => Interlocked.Read(ref _approved);

    /// <summary>Answers other than 200 (another decision won, for example): none are expected.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Requests that failed outright (connection, timeout).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    public long Lists => Interlocked.Read(ref _lists);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        _http.Dispose();
    }

    private async Task LoopAsync()
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var pending = await PendingAsync(ct);
                if (pending.Count == 0)
                {
                    await Task.Delay(IdlePause, ct);
                    continue;
                }

                await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = _parallel, CancellationToken = ct }, ApproveAsync);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or JsonException)
            {
                // A slow or failed list: counted, and tried again; the held calls wait meanwhile.
                Interlocked.Increment(ref _failures);
            }
        }
    }

    /// <summary>Every pending approval, oldest first. The API lists newest first: taking its first page only would
    /// starve the oldest whenever more are pending than a page holds.</summary>
    private async Task<List<string>> PendingAsync(CancellationToken ct)
    {
        var ids = new List<string>();
        string? cursor = null;
        do
        {
            var query = $"/api/approvals?status=pending&limit={Page}" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_baseUrl, query));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            using var response = await _http.SendAsync(request, ct);
            response.EnsureSuccessStatusCode();
            Interlocked.Increment(ref _lists);
            using var page = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
            ids.AddRange(page.RootElement.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("id").GetString()!));
            cursor = page.RootElement.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        }
        while (cursor is not null);

        ids.Reverse();
        return ids;
    }

    private async ValueTask ApproveAsync(string id, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseUrl, $"/api/approvals/{id}/approve"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        try
        {
            using var response = await _http.SendAsync(request, ct);
            Interlocked.Increment(ref response.StatusCode == HttpStatusCode.OK ? ref _approved : ref _refused);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            Interlocked.Increment(ref _failures);
        }
    }
}
