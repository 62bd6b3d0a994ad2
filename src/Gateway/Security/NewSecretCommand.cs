using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Humans;

namespace ApprovalEngine.Gateway.Security;

/// <summary>
/// <c>new-token</c> (a person's API token) and <c>new-key</c> (an agent's API key): print a new secret and its hash,
/// and exit. The secret is stored nowhere, so this is the only time it is shown; the configuration holds the hash.
/// Standard output has the two lines a script needs; the advice on where the hash goes is on standard error.
/// </summary>
public static class NewSecretCommand
{
    public const string TokenName = "new-token";
    public const string KeyName = "new-key";
    public const int ExitDone = 0;
    public const int ExitBadArguments = 2;

    public static bool Matches(IReadOnlyList<string> args) => args.Count > 0 && args[0] is TokenName or KeyName;

    /// <summary>Runs the command; <paramref name="args"/> include its name. Returns the exit code.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var forPerson = args[0] == TokenName;
        if (args.Count > 1)
        {
            var help = args.Count == 2 && args[1] is "--help" or "-h";
            (help ? output : error).WriteLine(help ? Usage(forPerson) : $"{args[0]}: unknown argument '{args[1]}'; it takes none.\n{Usage(forPerson)}");
            return help ? ExitDone : ExitBadArguments;
        }

        var secret = forPerson ? UserTokens.Generate() : ApiKeys.Generate();
        var hash = SecretFormat.Hash(secret);
        output.WriteLine(forPerson ? $"token: {secret}" : $"key:   {secret}");
        output.WriteLine($"hash:  {hash}");
        error.WriteLine(forPerson
            ? $"""

              Give the token to its owner privately: it is stored nowhere and shown only now.
              Add the hash to the person's tokens in the configuration (keep an old hash until its token is retired):
                users:
                  alice@example.com:
                    roles: [approver]
                    tokens: [{hash}]
              """
            : $"""

              Give the key to the agent's operator privately: it is stored nowhere and shown only now.
              Add the hash to the agent's keys in the configuration (keep an old hash until its key is retired):
                agents:
                  my-agent:
                    owner: alice@example.com
                    keys: [{hash}]
              """);
        return ExitDone;
    }

    private static string Usage(bool forPerson) => forPerson
        ? $"Usage: ApprovalEngine.Gateway {TokenName}\n\nPrints a new API token for a person ({UserTokens.Prefix}...) and its hash, for users.<email>.tokens."
        : $"Usage: ApprovalEngine.Gateway {KeyName}\n\nPrints a new API key for an agent ({ApiKeys.Prefix}...) and its hash, for agents.<id>.keys.";
}
