using System.CommandLine;
using System.Net;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Cli;

/// <summary><c>login</c>, <c>logout</c> and <c>whoami</c>. The token never appears in arguments or output.</summary>
internal static class AccountCommands
{
    public static IEnumerable<Command> Build(CliContext context)
    {
        yield return Login(context);
        yield return Logout(context);
        yield return WhoAmI(context);
    }

    private static Command Login(CliContext context)
    {
        var url = new Option<string>("--url") { Description = "The gateway's base URL, e.g. https://gateway.example.com", Required = true };
        var tokenStdin = new Option<bool>("--token-stdin")
        {
            Description = "Read the token from standard input (scripts). Without it the token is prompted for without echo; it is never an argument, since others can read a process's arguments.",
        };
        var command = new Command("login", "Check a person's API token with the gateway and store it (mode 0600) for the other commands") { url, tokenStdin };
        command.SetRun(context, async (result, cancellationToken) =>
        {
            var baseUrl = GatewayClient.ParseUrl(result.GetRequiredValue(url), "--url");
            var token = ReadToken(context.Host, baseUrl, result.GetValue(tokenStdin));
            if (baseUrl.Scheme == Uri.UriSchemeHttp && !IsLoopback(baseUrl))
            {
                await context.Error.WriteLineAsync($"warning: {baseUrl} is plain HTTP to another machine; the token crosses the network unencrypted. Use https.");
            }

            JsonNode me;
            using (var client = new GatewayClient(baseUrl, token))
            {
                me = await client.GetAsync("api/me", cancellationToken);
            }

            var store = new CredentialStore(context.Host.Environment);
            store.Save(new Credentials(baseUrl.ToString(), token));
            if (context.IsJson(result))
            {
                Output.Json(context.Out, me);
            }
            else
            {
                await context.Out.WriteLineAsync($"Logged in to {baseUrl} as {Describe(me)}.");
                await context.Out.WriteLineAsync($"Credentials saved in {store.FilePath} (readable by you only).");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Logout(CliContext context)
    {
        var command = new Command("logout", "Remove the stored credentials (the token itself stays valid until removed from the gateway's configuration)");
        command.SetRun(context, async (_, _) =>
        {
            var store = new CredentialStore(context.Host.Environment);
            await context.Out.WriteLineAsync(store.Delete() ? $"Logged out: removed {store.FilePath}." : $"Not logged in ({store.FilePath} does not exist).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command WhoAmI(CliContext context)
    {
        var command = new Command("whoami", "Show who the token belongs to and their roles");
        command.SetRun(context, async (result, cancellationToken) =>
        {
            using var client = context.Connect();
            var me = await client.GetAsync("api/me", cancellationToken);
            if (context.IsJson(result))
            {
                Output.Json(context.Out, me);
            }
            else
            {
                await context.Out.WriteLineAsync($"{Describe(me)} at {client.BaseUrl}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static string ReadToken(CliHost host, Uri url, bool fromStandardInput)
    {
        string? token;
        if (fromStandardInput)
        {
            token = host.In.ReadToEnd();
        }
        else if (host.ReadSecret is { } prompt)
        {
            token = prompt($"Token for {url}: ");
        }
        else
        {
            throw new CliFailure(ExitCodes.Usage, "Standard input is not a terminal, so the token cannot be prompted for: pipe it in with --token-stdin.");
        }

        token = token?.Trim();
        if (string.IsNullOrEmpty(token))
        {
            throw new CliFailure(ExitCodes.Usage, "No token given.");
        }

        return token.Any(char.IsWhiteSpace)
            ? throw new CliFailure(ExitCodes.Usage, "The token contains whitespace; give exactly one token.")
            : token;
    }

    private static string Describe(JsonNode me)
    {
        var roles = Output.List(me, "roles");
        return $"{Output.Cell(me, "email")} ({(roles == "-" ? "no roles" : roles)})";
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.DnsSafeHost, out var address) && IPAddress.IsLoopback(address));
}
