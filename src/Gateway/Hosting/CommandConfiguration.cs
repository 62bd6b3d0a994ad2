namespace ApprovalEngine.Gateway.Hosting;

public static class CommandConfiguration
{
    /// <summary>
    /// The configuration the server would see (appsettings.json, appsettings.{Environment}.json, environment
    /// variables), for commands that run without the server. Command-line arguments belong to the command.
    /// </summary>
    public static IConfiguration Load() => WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] }).Configuration;
}
