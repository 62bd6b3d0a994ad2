using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalEngine.Gateway.Tests;

/// <summary>The real gateway host, in memory, with the given settings (applied like command-line arguments, before Program reads them).</summary>
public sealed class GatewayFactory(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? services = null) : WebApplicationFactory<Program>
{
    /// <summary>A configuration with nothing behind it, for tests about the host itself (the gateway needs a file).</summary>
    public static string EmptyConfigPath { get; } = WriteEmptyConfig();

    public static GatewayFactory ForDatabase(string connectionString, params (string Key, string? Value)[] more) =>
        ForDatabase(connectionString, null, more);

    public static GatewayFactory ForDatabase(string connectionString, Action<IServiceCollection>? services, params (string Key, string? Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:ApprovalEngine"] = connectionString,
            ["ApprovalEngine:Runtime:PollInterval"] = "00:00:00.200",
            ["ApprovalEngine:Config"] = EmptyConfigPath,
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return new GatewayFactory(settings, services);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        if (services is not null)
        {
            builder.ConfigureTestServices(services);
        }
    }

    private static string WriteEmptyConfig()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ae-empty-{Environment.ProcessId}.yaml");
        File.WriteAllText(path, "upstreams: {}\n");
        return path;
    }

    /// <summary>GETs <paramref name="path"/> until it answers <paramref name="expected"/>; fails after <paramref name="timeout"/>.</summary>
    public static async Task<HttpResponseMessage> WaitForStatusAsync(HttpClient client, string path, HttpStatusCode expected, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        HttpResponseMessage? last = null;
        while (true)
        {
            last?.Dispose();
            last = await client.GetAsync(path, CancellationToken.None);
            if (last.StatusCode == expected)
            {
                return last;
            }

            if (cts.IsCancellationRequested)
            {
                var body = await last.Content.ReadAsStringAsync(CancellationToken.None);
                Assert.Fail($"{path} still answered {(int)last.StatusCode} {body} after {timeout.TotalSeconds} s; expected {(int)expected}.");
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }

    /// <summary>A loopback port with nothing listening (bound, then released).</summary>
    public static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
