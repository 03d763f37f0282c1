using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Resilience;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace McpProxy.Tests.Backends;

/// <summary><see cref="BackendTransportFactory"/>: which transport a backend gets, and how it is set up (nothing is spawned).</summary>
public sealed class BackendTransportFactoryTests : IDisposable
{
    private static readonly string Base = Path.Combine(Path.GetTempPath(), "mcp-proxy-base");
    private readonly BackendHttp _http = new();
    private readonly ServiceProvider _provider = new ServiceCollection().AddMetrics().BuildServiceProvider();

    private static CancellationToken Ct => TestContext.Timeout(20);

    private BackendTransportFactory Factory(long maxResultSize = 4096) =>
        new(new ProxyConfig { BaseDirectory = Base, Security = new SecurityConfig { MaxResultSize = maxResultSize } }, _http, NullLoggerFactory.Instance);

    private BackendModel Model(BackendConfig config) =>
        BackendModel.Build(config, new ResilienceServices(
            new OutlierEjections(TimeProvider.System),
            new ResilienceMetrics(_provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System), () => null);

    [Fact]
    public async Task A_stdio_backend_gets_a_bounded_stdio_transport_named_for_it()
    {
        using var model = Model(new BackendConfig { Name = "files", Transport = BackendTransport.Stdio, Command = "node", Args = ["server.js"] });

        var transport = await Factory().CreateAsync(model, _ => { }, Ct);

        Assert.IsType<BoundedStdioTransport>(transport);
        Assert.Equal("files", transport.Name);
    }

    [Fact]
    public void A_stdio_child_runs_in_its_cwd_under_the_config_directory_with_the_result_size_bound()
    {
        var options = Factory(maxResultSize: 1234).StdioOptions(new BackendConfig { Name = "files", Transport = BackendTransport.Stdio, Command = "node", Args = ["a", "b"], Cwd = "sub" });

        Assert.Equal("node", options.Command);
        Assert.Equal(["a", "b"], options.Arguments);
        Assert.Equal(Path.Combine(Base, "sub"), options.WorkingDirectory);
        Assert.Equal(1234, options.MaxMessageSize);
    }

    [Fact]
    public void A_stdio_child_without_cwd_runs_in_the_config_directory()
    {
        var options = Factory().StdioOptions(new BackendConfig { Name = "files", Transport = BackendTransport.Stdio, Command = "node" });

        Assert.Equal(Base, options.WorkingDirectory);
    }

    [Fact]
    public void An_http_backend_sends_its_bearer_token_and_nothing_else()
    {
        Assert.Equal("Bearer s3cret", BackendTransportFactory.HttpHeaders(new BackendConfig { Name = "h", BearerToken = "s3cret" })["authorization"]);
        Assert.Empty(BackendTransportFactory.HttpHeaders(new BackendConfig { Name = "h" }));
    }

    [Fact]
    public async Task An_http_backend_that_does_not_listen_is_not_reachable_before_any_session_is_opened()
    {
        using var model = Model(new BackendConfig { Name = "h", Transport = BackendTransport.Http, Url = $"http://127.0.0.1:{TestCalls.FreePort()}/mcp" });

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => Factory().CreateAsync(model, _ => { }, Ct).AsTask());

        Assert.StartsWith("not reachable: ", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _http.Dispose();
        _provider.Dispose();
    }
}
