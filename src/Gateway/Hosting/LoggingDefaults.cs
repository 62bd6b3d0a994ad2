using Microsoft.Extensions.Configuration.Memory;

namespace ApprovalEngine.Gateway.Hosting;

public static class LoggingDefaults
{
    /// <summary>
    /// Log levels that hold wherever the gateway runs from (appsettings.json is only found in the content root, the
    /// current directory). Added as the lowest-precedence source, so any appsettings file, environment variable or
    /// argument overrides them.
    /// </summary>
    public static WebApplicationBuilder UseGatewayLoggingDefaults(this WebApplicationBuilder builder)
    {
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                // Npgsql logs every command at Information: the runtime's one-second poll alone would flood the console.
                ["Logging:LogLevel:Npgsql"] = "Warning",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",

                // The MCP SDK writes several Information lines per proxied call: measured at about a fifth of the
                // gateway's CPU per call (bench/README.md). The gateway logs what operators need itself.
                ["Logging:LogLevel:ModelContextProtocol"] = "Warning",
            },
        });
        return builder;
    }
}
