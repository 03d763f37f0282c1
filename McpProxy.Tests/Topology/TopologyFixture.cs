using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using McpProxy.AppHost;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;

namespace McpProxy.Tests.Topology;

/// <summary>
/// The real Aspire topology (McpProxy.AppHost) started through Aspire.Hosting.Testing, once for the tests of the
/// collection: proxy and both sample backends as processes, Redis as the <c>redis-server</c> executable
/// (<c>McpProxy:UseContainers=false</c>: no container engine here or in CI). The topology's proxy requires a bearer
/// token (<c>[auth]</c>) and has an admin token, both secret AppHost parameters: the fixture sets them as a user would
/// (<c>Parameters:mcp-proxy-token</c>, <c>Parameters:mcp-proxy-admin-token</c>) and its clients send the client token.
/// </summary>
public sealed class TopologyFixture : IAsyncLifetime
{
    private DistributedApplication? _app;

    /// <summary>Receives the spans the proxy and the sample backends export (their OTLP endpoint in this topology).</summary>
    public OtlpTraceReceiver Traces { get; private set; } = null!;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("The topology is not started.");

    public Uri ProxyBaseAddress { get; private set; } = null!;

    public Uri McpEndpoint => new(ProxyBaseAddress, "/mcp");

    /// <summary>The proxy's client bearer token (the <c>mcp-proxy-token</c> parameter).</summary>
    public string ClientToken { get; } = "topology-client-" + Guid.NewGuid().ToString("N");

    /// <summary>The proxy's admin token (the <c>mcp-proxy-admin-token</c> parameter).</summary>
    public string AdminToken { get; } = "topology-admin-" + Guid.NewGuid().ToString("N");

    public async Task InitializeAsync()
    {
        var ct = TestContext.Timeout(180);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.McpProxy_AppHost>(
            [
                "--McpProxy:UseContainers=false",
                $"--Parameters:{TopologySecrets.ParameterName(TopologySecrets.ProxyToken)}={ClientToken}",
                $"--Parameters:{TopologySecrets.ParameterName(TopologySecrets.ProxyAdminToken)}={AdminToken}",
            ],
            (options, _) => options.DisableDashboard = true,
            ct);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));

        // Export the services' telemetry to a real OTLP/HTTP endpoint of the test, as they would to Jaeger or the dashboard.
        Traces = await OtlpTraceReceiver.StartAsync();
        foreach (var name in new[] { TopologyNames.Proxy, TopologyNames.SampleA, TopologyNames.SampleB })
        {
            builder.CreateResourceBuilder<ProjectResource>(name)
                .WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", Traces.Endpoint.ToString().TrimEnd('/'))
                .WithEnvironment("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
                .WithEnvironment("OTEL_BSP_SCHEDULE_DELAY", "100")
                .WithEnvironment("OTEL_TRACES_SAMPLER", "always_on");
        }

        _app = await builder.BuildAsync(ct);
        await _app.StartAsync(ct);
        await _app.ResourceNotifications.WaitForResourceHealthyAsync(TopologyNames.Proxy, ct);
        ProxyBaseAddress = _app.GetEndpoint(TopologyNames.Proxy, "http");
    }

    /// <summary>An MCP client of the proxy, authenticated with <see cref="ClientToken"/>.</summary>
    public Task<McpClient> ConnectAsync(IDictionary<string, string>? headers = null, CancellationToken cancellationToken = default) =>
        McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = McpEndpoint,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = new Dictionary<string, string>(headers ?? new Dictionary<string, string>()) { ["Authorization"] = "Bearer " + ClientToken },
            }),
            cancellationToken: cancellationToken);

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        if (Traces is not null)
        {
            await Traces.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class TopologyCollection : ICollectionFixture<TopologyFixture>
{
    public const string Name = "Aspire topology";
}
