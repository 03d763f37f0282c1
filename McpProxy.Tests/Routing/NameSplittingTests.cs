using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Resilience;
using McpProxy.Routing;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Tests.Routing;

/// <summary>
/// Name splitting alone: how a namespaced name or URI is cut into its backend and the original name, with the configured
/// separator, the name policy's separator, and the <c>namespaced = false</c> backend. No backend is started.
/// </summary>
public sealed class NameSplittingTests : IAsyncDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly List<BackendConnection> _backends = [];

    /// <summary>A catalog over unstarted backends (the one place that builds a <see cref="BackendConnection"/>).</summary>
    private ProxyCatalog Catalog(string separator, NamesConfig? names, params (string Name, bool Namespaced)[] backends)
    {
        var config = new ProxyConfig
        {
            Proxy = new ProxySection { Separator = separator, Names = names ?? new NamesConfig() },
            Backends = [.. backends.Select(b => new BackendConfig { Name = b.Name, Namespaced = b.Namespaced })],
        };
        var resilience = new ResilienceServices(
            new OutlierEjections(TimeProvider.System),
            new ResilienceMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System);
        foreach (var backend in config.Backends)
        {
            _backends.Add(new BackendConnection(BackendModel.Build(backend, resilience, () => null), new NoTransports(), new BackendEvents(), NullLoggerFactory.Instance, TimeProvider.System));
        }

        var catalog = new ProxyCatalog(config, NullLogger<ProxyCatalog>.Instance);
        catalog.SetBackends(_backends.TakeLast(backends.Length));
        return catalog;
    }

    private static (string? Backend, string Original) Split(ProxyCatalog catalog, string name) =>
        catalog.TrySplit(name, out var route, out var original) ? (route.Backend.Name, original) : (null, original);

    [Theory]
    [InlineData("a/echo", "a", "echo")]
    [InlineData("b/echo", "b", "echo")]
    [InlineData("a/x/y", "a", "x/y")]
    [InlineData("a/", "a", "")]
    [InlineData("a/file:///public/a.txt", "a", "file:///public/a.txt")]
    public void The_text_before_the_first_separator_names_the_backend(string name, string backend, string original)
    {
        Assert.Equal((backend, original), Split(Catalog("/", null, ("a", true), ("b", true)), name));
    }

    [Theory]
    [InlineData("c/echo")]
    [InlineData("/echo")]
    [InlineData("echo")]
    [InlineData("A/echo")]
    [InlineData("")]
    public void A_name_no_backend_claims_does_not_split_without_a_passthrough_backend(string name)
    {
        Assert.Null(Split(Catalog("/", null, ("a", true)), name).Backend);
    }

    [Fact]
    public void A_backend_whose_name_prefixes_another_does_not_claim_its_items()
    {
        var catalog = Catalog("/", null, ("a", true), ("ab", true));

        Assert.Equal(("ab", "x"), Split(catalog, "ab/x"));
        Assert.Equal(("a", "b/x"), Split(catalog, "a/b/x"));
    }

    [Theory]
    [InlineData("svc__echo", "svc", "echo")]
    [InlineData("my_svc__echo", "my_svc", "echo")]
    [InlineData("svc__a__b", "svc", "a__b")]
    public void A_multi_character_separator_splits_at_its_first_occurrence(string name, string backend, string original)
    {
        Assert.Equal((backend, original), Split(Catalog("__", null, ("svc", true), ("my_svc", true)), name));
    }

    [Fact]
    public void A_name_in_no_namespace_goes_unchanged_to_the_passthrough_backend()
    {
        var catalog = Catalog("/", null, ("a", true), ("p", false));

        Assert.Equal(("p", "echo"), Split(catalog, "echo"));
        Assert.Equal(("p", "zz/echo"), Split(catalog, "zz/echo"));
    }

    [Fact]
    public void A_namespaced_backend_keeps_its_items_when_a_passthrough_backend_exists()
    {
        Assert.Equal(("a", "echo"), Split(Catalog("/", null, ("a", true), ("p", false)), "a/echo"));
    }

    [Fact]
    public void The_passthrough_backends_own_name_is_no_namespace()
    {
        Assert.Equal(("p", "p/echo"), Split(Catalog("/", null, ("a", true), ("p", false)), "p/echo"));
    }

    [Fact]
    public void Namespace_writes_what_split_reads()
    {
        var catalog = Catalog("/", null, ("a", true), ("p", false));

        Assert.Equal("a/x/y", catalog.Namespace("a", "x/y"));
        Assert.Equal(("a", "x/y"), Split(catalog, catalog.Namespace("a", "x/y")));
        Assert.Equal("echo", catalog.Namespace("p", "echo"));
        Assert.Equal(("p", "echo"), Split(catalog, catalog.Namespace("p", "echo")));
    }

    [Theory]
    [InlineData("a/echo", "a")]
    [InlineData("a__echo", "a")]
    [InlineData("b__x", null)]
    [InlineData("echo", null)]
    public void With_the_mcp_charset_a_name_is_owned_under_either_separator(string name, string? owner)
    {
        var catalog = Catalog("/", new NamesConfig { Charset = NameCharset.Mcp }, ("a", true));

        Assert.Equal(owner, catalog.TryOwnerOfName(name, out var route) ? route.Backend.Name : null);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }

        await _services.DisposeAsync();
    }

private sealed class NoTransports : IBackendTransportFactory
    {
        public ValueTask<ModelContextProtocol.Client.IClientTransport> CreateAsync(BackendModel backend, Action<string> onTransportFailure, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
