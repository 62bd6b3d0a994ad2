using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalEngine.Gateway.Tests;

/// <summary>The local stand-ins for outside services (Slack, Microsoft, an identity provider, a collector): quiet Kestrel apps on 127.0.0.1.</summary>
internal static class LoopbackServer
{
    /// <summary>A builder for an app on a free loopback port, with no logging.</summary>
    public static WebApplication Build()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        return builder.Build();
    }

    /// <summary>Starts the app and returns its base address, <c>http://127.0.0.1:PORT</c> (no trailing slash).</summary>
    public static async Task<string> StartAsync(WebApplication app)
    {
        await app.StartAsync();
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
    }
}
