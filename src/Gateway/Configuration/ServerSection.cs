namespace ApprovalEngine.Gateway.Configuration;

internal static class ServerSection
{
    private static readonly string[] Fields =
        ["publicUrl", "allowedHosts", "allowedOrigins", "toolSeparator", "sessionIdleTimeout", "maxRequestBodyBytes"];

    // Below this an MCP initialize request with a modest client description would not fit.
    private const long MinRequestBodyBytes = 1024;

    public static ServerConfig Read(MappingView root)
    {
        if (root.Child("server", Fields) is not { } server)
        {
            return new ServerConfig();
        }

        return new ServerConfig
        {
            PublicUrl = server.Url("publicUrl"),
            AllowedHosts = server.Strings("allowedHosts", Checks.Host),
            AllowedOrigins = server.Strings("allowedOrigins", Checks.Origin),
            ToolSeparator = server.String("toolSeparator", check: Checks.ToolSeparator) ?? ServerConfig.DefaultToolSeparator,
            SessionIdleTimeout = server.Duration("sessionIdleTimeout", ServerConfig.DefaultSessionIdleTimeout),
            MaxRequestBodyBytes = server.Int64("maxRequestBodyBytes", ServerConfig.DefaultMaxRequestBodyBytes, MinRequestBodyBytes),
        };
    }
}
