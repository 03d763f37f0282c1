using McpProxy.Configuration;
using McpProxy.Routing;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// Owns every backend connection for the proxy's lifetime: starts them in parallel at startup (waiting for each
/// first attempt, so the first <c>tools/list</c> is complete, but never failing startup because of a backend), keeps
/// the aggregate catalog current, and stops the children on shutdown.
/// </summary>
internal sealed partial class BackendRegistry(
    ProxyConfig config,
    ProxyCatalog catalog,
    SessionHub sessions,
    IHttpClientFactory httpClientFactory,
    ILoggerFactory loggerFactory,
    ILogger<BackendRegistry> logger) : IHostedService, IBackendObserver, IAsyncDisposable
{
    private List<BackendConnection> _backends = [];
    private int _started;

    public IReadOnlyList<BackendConnection> Backends => _backends;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            return;
        }

        _backends = [.. config.Backends
            .Where(b => b.MirrorOf is null)
            .Select(b => new BackendConnection(b, config.BaseDirectory, this, httpClientFactory, loggerFactory))];
        catalog.SetBackends(_backends);

        await Task.WhenAll(_backends.Select(b => b.StartAsync())).WaitAsync(cancellationToken);
        LogStarted(_backends.Count(b => b.State == BackendState.Ready), _backends.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync();

    public void OnCatalogChanged(BackendConnection backend, CatalogParts parts)
    {
        catalog.Rebuild();
        sessions.BroadcastListChanged(parts);
    }

    public ValueTask OnNotificationAsync(BackendConnection backend, JsonRpcNotification notification, CancellationToken cancellationToken) =>
        sessions.OnBackendNotificationAsync(backend, notification);

    public async ValueTask DisposeAsync()
    {
        var backends = Interlocked.Exchange(ref _backends, []);
        await Task.WhenAll(backends.Select(b => b.DisposeAsync().AsTask()));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Ready} of {Total} backends ready")]
    private partial void LogStarted(int ready, int total);
}
