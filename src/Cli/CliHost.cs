using System.Text;

namespace ApprovalEngine.Cli;

/// <summary>
/// What the CLI reads and writes: the console in the executable, writers and a dictionary in in-process tests.
/// <see cref="ReadSecret"/> prompts without echo; null where there is no terminal to prompt on.
/// </summary>
public sealed record CliHost
{
    public required TextWriter Out { get; init; }

    public required TextWriter Error { get; init; }

    public required TextReader In { get; init; }

    public required Func<string, string?> Environment { get; init; }

    public Func<string, string?>? ReadSecret { get; init; }

    public static CliHost FromConsole() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        In = Console.In,
        Environment = System.Environment.GetEnvironmentVariable,
        ReadSecret = Console.IsInputRedirected ? null : PromptWithoutEcho,
    };

    private static string? PromptWithoutEcho(string prompt)
    {
        Console.Error.Write(prompt);
        var secret = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return secret.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (secret.Length > 0)
                {
                    secret.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                secret.Append(key.KeyChar);
            }
        }
    }
}
