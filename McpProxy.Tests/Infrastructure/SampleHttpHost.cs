using McpProxy.Backends.Sample;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace McpProxy.Tests.Infrastructure;

/// <summary>The sample backend as a real Streamable HTTP MCP server on a free loopback port, in the test process.</summary>
internal sealed class SampleHttpHost : IAsyncDisposable
{
    private SampleHttpHost(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
    }

    public WebApplication App { get; }
    public Uri BaseAddress { get; }
    public Uri McpEndpoint => new(BaseAddress, "/mcp");

    /// <summary>The live fault knobs: latency and error rate can be changed while the server runs.</summary>
    public SampleOptions Options => App.Services.GetRequiredService<SampleOptions>();

    /// <summary>Tool calls this server has received (every attempt the proxy sent).</summary>
    public long ToolCalls => App.Services.GetRequiredService<SampleState>().ToolCalls;

    /// <summary>Every resource URI this server received, as <c>"{method} {uri}"</c>, in arrival order.</summary>
    public IReadOnlyList<string> ReceivedUris => [.. App.Services.GetRequiredService<SampleState>().ReceivedUris];

    /// <summary>The method of every JSON-RPC request this server received, in arrival order.</summary>
    public IReadOnlyList<string> ReceivedMethods => [.. App.Services.GetRequiredService<SampleState>().ReceivedMethods];

    public long Cancellations => App.Services.GetRequiredService<SampleState>().Cancellations;

    public static async Task<SampleHttpHost> StartAsync(params string[] args)
    {
        var app = SampleServer.BuildHttpApp(["--urls", "http://127.0.0.1:0", .. args]);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SampleHttpHost(app, new Uri(address));
    }

    /// <summary>A <c>[[backends]]</c> block pointing the proxy at this server.</summary>
    public string Backend(string name, string extra = "") => TestPaths.HttpBackend(name, McpEndpoint, extra);

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
    }
}
