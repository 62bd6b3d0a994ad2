namespace ApprovalEngine.Cli;

/// <summary>
/// Which gateway and token a command uses: <c>APPROVALS_URL</c> and <c>APPROVALS_TOKEN</c> when set (CI), else the
/// credentials file written by <c>login</c>. A stored token is never sent to a URL other than the one it was stored for.
/// </summary>
internal static class Session
{
    public const string UrlVariable = "APPROVALS_URL";
    public const string TokenVariable = "APPROVALS_TOKEN";

    public static GatewayClient Connect(CliHost host)
    {
        var url = host.Environment(UrlVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        var token = host.Environment(TokenVariable) is { Length: > 0 } tokenFromEnvironment ? tokenFromEnvironment.Trim() : null;
        if (url is not null && token is not null)
        {
            return new GatewayClient(GatewayClient.ParseUrl(url, UrlVariable), token);
        }

        var store = new CredentialStore(host.Environment);
        var stored = store.Load();
        if (stored is null)
        {
            throw new CliFailure(ExitCodes.NotAuthorized,
                $"Not logged in: run 'approvals login --url <gateway>', or set {UrlVariable} and {TokenVariable}.");
        }

        var storedUrl = GatewayClient.ParseUrl(stored.Url, store.FilePath);
        if (url is null)
        {
            return new GatewayClient(storedUrl, token ?? stored.Token);
        }

        var wanted = GatewayClient.ParseUrl(url, UrlVariable);
        return Uri.Compare(wanted, storedUrl, UriComponents.HttpRequestUrl, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
            ? new GatewayClient(wanted, stored.Token)
            : throw new CliFailure(ExitCodes.NotAuthorized,
                $"The stored token is for {storedUrl}, not {wanted}: set {TokenVariable}, or run 'approvals login --url {wanted}'.");
    }
}
