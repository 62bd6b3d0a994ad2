using ApprovalEngine.Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace ApprovalEngine.Gateway.Tests;

public sealed class ListenAddressTests
{
    [Fact]
    public void UseDefaultListenAddress_NothingConfigured_ListensOnLoopback8080()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });

        builder.UseDefaultListenAddress();

        Assert.Equal("http://127.0.0.1:8080", builder.Configuration[WebHostDefaults.ServerUrlsKey]);
    }

    [Fact]
    public void UseDefaultListenAddress_UrlsArgument_KeepsIt()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = ["--urls=http://127.0.0.1:9123"] });

        builder.UseDefaultListenAddress();

        Assert.Equal("http://127.0.0.1:9123", builder.Configuration[WebHostDefaults.ServerUrlsKey]);
    }
}
