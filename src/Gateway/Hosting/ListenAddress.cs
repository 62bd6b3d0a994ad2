namespace ApprovalEngine.Gateway.Hosting;

public static class ListenAddress
{
    /// <summary>Loopback only by default: exposing the gateway is a deliberate choice (<c>--urls</c>, <c>ASPNETCORE_URLS</c>).</summary>
    public const string Default = "http://127.0.0.1:8080";

    /// <summary>Listen on <see cref="Default"/> unless the standard ASP.NET Core settings name an address.</summary>
    public static WebApplicationBuilder UseDefaultListenAddress(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var configured = !string.IsNullOrEmpty(configuration[WebHostDefaults.ServerUrlsKey])
            || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpPortsKey])
            || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpsPortsKey])
            || configuration.GetSection("Kestrel:Endpoints").Exists();
        if (!configured)
        {
            builder.WebHost.UseUrls(Default);
        }

        return builder;
    }
}
