using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Backends;

/// <summary><see cref="BackendEvents"/>: what the layers above hear from the backends, and in which order.</summary>
public sealed class BackendEventsTests : IDisposable
{
    private readonly ServiceProvider _provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly BackendEvents _events = new();
    private readonly List<string> _heard = [];

    public BackendEventsTests()
    {
        _events.CatalogChanged += (b, parts) => _heard.Add($"catalog {b.Name} {parts}");
        _events.ListChanged += parts => _heard.Add($"list_changed {parts}");
        _events.BackendsChanged += (backends, mirrors) => _heard.Add($"backends {backends.Count}+{mirrors.Count}");
    }

    [Fact]
    public void A_catalog_change_reaches_the_catalog_before_the_clients()
    {
        _events.OnCatalogChanged(Connection("a"), CatalogParts.Tools);

        Assert.Equal(["catalog a Tools", "list_changed Tools"], _heard);
    }

    [Fact]
    public void A_mirror_catalog_change_is_not_announced()
    {
        _events.OnCatalogChanged(Connection("shadow", mirrorOf: "a"), CatalogParts.All);

        Assert.Empty(_heard);
    }

    [Fact]
    public void A_new_set_of_backends_is_announced_to_clients_only_when_asked()
    {
        _events.OnBackendsChanged([Connection("a")], [], announce: false);
        _events.OnBackendsChanged([Connection("a")], [Connection("shadow", mirrorOf: "a")], announce: true);

        Assert.Equal(["backends 1+0", "backends 1+1", "list_changed All"], _heard);
    }

#pragma warning disable MCP9005 // logging is deprecated from 2026-07-28; backends on 2025-11-25 still get a level
    [Fact]
    public void Without_a_sessions_subscriber_backends_log_at_info_and_there_is_no_sole_session()
    {
        Assert.Equal(LoggingLevel.Info, _events.CurrentLogLevel);
        Assert.Null(_events.CurrentSoleSession());

        _events.BackendLogLevel = () => LoggingLevel.Debug;
        Assert.Equal(LoggingLevel.Debug, _events.CurrentLogLevel);
    }
#pragma warning restore MCP9005

    private BackendConnection Connection(string name, string? mirrorOf = null)
    {
        var services = new ResilienceServices(
            new OutlierEjections(TimeProvider.System),
            new ResilienceMetrics(_provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System);
        var model = BackendModel.Build(new BackendConfig { Name = name, MirrorOf = mirrorOf }, services, () => null);
        return new BackendConnection(model, new NoTransports(), _events, NullLoggerFactory.Instance, TimeProvider.System);
    }

    private sealed class NoTransports : IBackendTransportFactory
    {
        public ValueTask<ModelContextProtocol.Client.IClientTransport> CreateAsync(BackendModel backend, Action<string> onTransportFailure, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }

    public void Dispose() => _provider.Dispose();
}
