using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Hosting;

public static class CommandConfiguration
{
    /// <summary>Short command-line switches for the settings people pass most.</summary>
    public static IDictionary<string, string> Switches { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--config"] = ConfigurationHosting.ConfigFileKey,
    };

    /// <summary>
    /// The configuration the server would see (appsettings.json, appsettings.{Environment}.json, environment
    /// variables), for commands that run without the server. Command-line arguments belong to the command.
    /// </summary>
    public static IConfiguration Load() => WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] }).Configuration;
}
