using McpProxy.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;

namespace McpProxy.Tests.Infrastructure;

/// <summary>
/// The real proxy, on Kestrel on a free loopback port, built exactly as Program.cs builds it, from a TOML string.
/// </summary>
internal sealed class ProxyHost : IAsyncDisposable
{
    private ProxyHost(WebApplication app, Uri baseAddress, ProxyConfig config)
    {
        App = app;
        BaseAddress = baseAddress;
        Config = config;
    }

    public WebApplication App { get; }
    public Uri BaseAddress { get; }
    public ProxyConfig Config { get; }
    public Uri McpEndpoint => new(BaseAddress, Config.Proxy.Listen.Path);
    public IServiceProvider Services => App.Services;

    /// <summary>Starts a proxy for the given backends TOML; <c>[proxy]</c> is prepended unless the TOML has one.</summary>
    public static Task<ProxyHost> StartAsync(
        string toml, Func<string, string?>? getEnv = null, Action<ILoggingBuilder>? logging = null, Action<WebApplicationBuilder>? configure = null)
    {
        if (!toml.Contains("[proxy]", StringComparison.Ordinal))
        {
            toml = "[proxy]\nname = \"test-proxy\"\n[proxy.listen]\nport = 0\n\n" + toml;
        }

        return StartAsync(ConfigLoader.Parse(toml, Path.Combine(TestPaths.RepoRoot, "test.toml"), getEnv ?? (_ => null)), logging, configure);
    }

    /// <summary>Starts a proxy on a config file, as <c>--config FILE</c> does (hot reload watches that file).</summary>
    public static Task<ProxyHost> StartFromFileAsync(string path, Action<ILoggingBuilder>? logging = null, Action<WebApplicationBuilder>? configure = null) =>
        StartAsync(ConfigLoader.LoadFile(path), logging, configure);

    private static async Task<ProxyHost> StartAsync(ProxyConfig config, Action<ILoggingBuilder>? logging, Action<WebApplicationBuilder>? configure)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        configure?.Invoke(builder);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        logging?.Invoke(builder.Logging);
        builder.AddServiceDefaults();
        builder.AddMcpProxy(config);
        var app = builder.Build();
        app.MapMcpProxy();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ProxyHost(app, new Uri(address), config);
    }

    /// <summary>
    /// A legacy (2025-11-25, <c>initialize</c> + session) client unless <paramref name="options"/> names another
    /// protocol version: the proxy serves both eras, and an SDK client left to probe would pick the modern one.
    /// </summary>
    public Task<McpClient> ConnectAsync(McpClientOptions? options = null, CancellationToken cancellationToken = default, string? bearerToken = null) =>
        McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = McpEndpoint,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = bearerToken is null ? null : new Dictionary<string, string> { ["Authorization"] = "Bearer " + bearerToken },
            }),
            LegacyUnlessSet(options),
            cancellationToken: cancellationToken);

    private static McpClientOptions LegacyUnlessSet(McpClientOptions? options)
    {
        options ??= new McpClientOptions();
        options.ProtocolVersion ??= "2025-11-25";
        return options;
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
    }
}
