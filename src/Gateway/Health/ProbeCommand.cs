namespace ApprovalEngine.Gateway.Health;

/// <summary>
/// <c>probe [url]</c>: asks a running gateway's <c>/readyz</c> (by default on this machine's port 8080) and exits 0
/// when it answers 200, 1 otherwise. Container healthchecks run it: the runtime image has no curl.
/// </summary>
public static class ProbeCommand
{
    public const string Name = "probe";
    public const string DefaultUrl = "http://127.0.0.1:8080/readyz";
    public const int ExitReady = 0;
    public const int ExitNotReady = 1;
    public const int ExitBadArguments = 2;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public const string Usage = """
        Usage: ApprovalEngine.Gateway probe [<url>]

        Exit code 0 when the URL (default http://127.0.0.1:8080/readyz) answers 200 within 5 s, 1 otherwise, with the
        answer or the error on standard error; 2 for bad arguments. Use /healthz for liveness, /readyz for readiness.
        """;

    public static bool Matches(IReadOnlyList<string> args) => args.Count > 0 && args[0] == Name;

    /// <summary>Runs the command; <paramref name="args"/> include its name. Returns the exit code.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (args.Count > 2 || (args.Count == 2 && args[1] is "--help" or "-h"))
        {
            var help = args.Count == 2;
            await (help ? output : error).WriteLineAsync(Usage);
            return help ? ExitReady : ExitBadArguments;
        }

        var text = args.Count == 2 ? args[1] : DefaultUrl;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            await error.WriteLineAsync($"probe: '{text}' is not an http or https URL.");
            return ExitBadArguments;
        }

        using var http = new HttpClient { Timeout = Timeout };
        try
        {
            using var response = await http.GetAsync(url);
            var body = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode)
            {
                await output.WriteLineAsync(body);
                return ExitReady;
            }

            await error.WriteLineAsync($"probe: {url} answered {(int)response.StatusCode}: {body}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            await error.WriteLineAsync($"probe: {url} did not answer: {e.Message}");
        }

        return ExitNotReady;
    }
}
