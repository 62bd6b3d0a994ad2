namespace ApprovalEngine.Cli;

/// <summary>The <c>approvals</c> executable: everything happens in <see cref="CliApp"/>, which tests call in-process too.</summary>
internal static class Program
{
    private static Task<int> Main(string[] args) => CliApp.RunAsync(args, CliHost.FromConsole());
}
