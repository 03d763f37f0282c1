using McpProxy.Configuration;
using McpProxy.Resilience;
using Microsoft.Extensions.Options;

namespace McpProxy.Backends;

/// <summary>
/// Owns every backend connection for the proxy's lifetime: builds each backend's <see cref="BackendModel"/> and
/// connection, starts them in parallel at startup (waiting for each first attempt, so the first <c>tools/list</c> is
/// complete, but never failing startup because of a backend), moves to a new set on hot reload, and stops the children
/// on shutdown. What changes is announced on <see cref="BackendEvents"/>, to which the layers above subscribe (the
/// catalog, the client sessions, the mirror): this folder references none of them.
/// </summary>
internal sealed partial class BackendRegistry(
    ProxyConfig config,
    IOptions<BackendEvents> subscriptions,
    IBackendTransportFactory transports,
    ILoggerFactory loggerFactory,
    ResilienceServices resilience,
    InFlightCalls inFlight,
    ILogger<BackendRegistry> logger) : IHostedLifecycleService, IAsyncDisposable
{
    // Reading the options runs every subscription (Routing, Sessions, Mirroring) before any backend exists.
    private readonly BackendEvents _events = subscriptions.Value;

    private readonly SemaphoreSlim _reload = new(1, 1);
    private List<BackendConnection> _backends = [];
    private List<BackendConnection> _mirrors = [];
    private int _started;
    private int _allReady;

    // Connections a hot reload replaced or removed, draining their calls in flight before they are disposed.
    private readonly Lock _retiringGate = new();
    private readonly HashSet<BackendConnection> _retiring = [];
    private readonly List<Task> _retirements = [];

    /// <summary>The backends in effect: those of the startup config, then of the last config hot reload applied.</summary>
    public IReadOnlyList<BackendConfig> Configs { get; private set; } = config.Backends;

    /// <summary>The routed backends (mirrors excluded).</summary>
    public IReadOnlyList<BackendConnection> Backends => _backends;

    /// <summary>The mirror backends (<c>mirror_of</c>): connected and supervised, never routed to.</summary>
    public IReadOnlyList<BackendConnection> Mirrors => _mirrors;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            return;
        }

        _events.Ready += OnReady;
        _events.CatalogChanged += OnCatalogChanged;
        _backends = [.. config.Backends
            .Where(b => b.MirrorOf is null)
            .Select(Connect)];
        _mirrors = [.. config.Backends
            .Where(b => b.MirrorOf is not null)
            .Select(Connect)];
        resilience.Ejections.TotalBackends = _backends.Count;
        _events.OnBackendsChanged(_backends, _mirrors, announce: false);

        await Task.WhenAll(_backends.Concat(_mirrors).Select(b => b.StartAsync())).WaitAsync(cancellationToken);
        LogStarted(_backends.Count(b => b.State == BackendState.Ready), _backends.Count);
        NoteAllReady();
    }

    /// <summary>Logs "All N backends ready" each time every routed backend has become ready (at startup, after an outage).</summary>
    private void NoteAllReady()
    {
        var backends = _backends;
        if (backends.All(b => b.State == BackendState.Ready))
        {
            if (Interlocked.Exchange(ref _allReady, 1) == 0)
            {
                LogAllReady(backends.Count);
            }
        }
        else
        {
            Interlocked.Exchange(ref _allReady, 0);
        }
    }

    /// <summary>
    /// Shutdown, first phase: refuse new calls, stop restarting backends, and drain the calls in flight for up to
    /// <c>[proxy] shutdown_timeout_seconds</c>. This runs in <see cref="IHostedLifecycleService.StoppingAsync"/>, which
    /// the host calls before it stops any hosted service, Kestrel included: the listener stays up during the drain, so a
    /// new call gets the documented "shutting down" error (not a refused connection) and <c>/health</c> answers 503,
    /// which tells a load balancer to stop sending.
    /// </summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        foreach (var backend in _backends.Concat(_mirrors))
        {
            backend.BeginShutdown();
        }

        var timeout = TimeSpan.FromSeconds(config.Proxy.ShutdownTimeoutSeconds);
        LogDraining(inFlight.Count, timeout.TotalSeconds);
        var left = await inFlight.DrainAsync(timeout, cancellationToken);
        if (left > 0)
        {
            // Cut what is left so each caller hears why (not "A task was canceled."), and give those answers a
            // moment to leave before the backends stop.
            LogDrainTimedOut(left);
            foreach (var backend in _backends.Concat(_mirrors).Concat(Retiring()))
            {
                backend.Cut($"The proxy is shutting down: the call to backend '{backend.Name}' was cut at the shutdown timeout ({timeout.TotalSeconds:0.#} s); retry it against another instance.");
            }

            await inFlight.DrainAsync(BackendConnection.CutGrace, cancellationToken);
        }
    }

    /// <summary>
    /// Shutdown, second phase (after the drain): stop the backends; children get their stdin closed, then are killed.
    /// The drain runs here only if the lifecycle phase did not run first (a host that calls <c>StopAsync</c> alone).
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!inFlight.IsStopping)
        {
            await StoppingAsync(cancellationToken);
        }

        await DisposeAsync();
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Hot reload: moves to a new list of backends. Backends whose config is unchanged keep their connection (and every
    /// client session keeps working with them); removed ones are stopped; added ones are started; changed ones (any
    /// key, policies included) are replaced by a new connection. Clients get <c>list_changed</c>. A replaced or removed
    /// connection drains: routing no longer reaches it, its calls in flight finish (up to
    /// <c>shutdown_timeout_seconds</c>, then they are cut saying why), then it is stopped (<see cref="BackendConnection.RetireAsync"/>).
    /// </summary>
    /// <returns>Names added, removed and replaced.</returns>
    public async Task<(IReadOnlyList<string> Added, IReadOnlyList<string> Removed, IReadOnlyList<string> Replaced)> ApplyAsync(
        IReadOnlyList<BackendConfig> configs, CancellationToken cancellationToken)
    {
        await _reload.WaitAsync(cancellationToken);
        try
        {
            var current = _backends.Concat(_mirrors).ToDictionary(b => b.Name, StringComparer.Ordinal);
            var next = new List<BackendConnection>();
            var started = new List<BackendConnection>();
            var stopped = new List<BackendConnection>();
            List<string> added = [], replaced = [], removed = [];
            try
            {
                foreach (var backendConfig in configs)
                {
                    if (current.Remove(backendConfig.Name, out var existing))
                    {
                        if (existing.Config.Equals(backendConfig))
                        {
                            next.Add(existing);
                            continue;
                        }

                        stopped.Add(existing);
                        replaced.Add(backendConfig.Name);
                    }
                    else
                    {
                        added.Add(backendConfig.Name);
                    }

                    var connection = Connect(backendConfig);
                    next.Add(connection);
                    started.Add(connection);
                }

                stopped.AddRange(current.Values);
                removed.AddRange(current.Keys);

                // New connections first (so the switch-over finds them started), then swap, then stop the old ones.
                await Task.WhenAll(started.Select(b => b.StartAsync())).WaitAsync(cancellationToken);
            }
            catch
            {
                // Nothing was swapped yet: drop what this reload built and keep the running backends as they are.
                await Task.WhenAll(started.Select(b => b.DisposeAsync().AsTask()));
                throw;
            }

            _backends = [.. next.Where(b => b.Config.MirrorOf is null)];
            _mirrors = [.. next.Where(b => b.Config.MirrorOf is not null)];
            Configs = configs;
            resilience.Ejections.TotalBackends = _backends.Count;
            // The catalog and the mirror move to the new set, then clients are told to re-list.
            _events.OnBackendsChanged(_backends, _mirrors, announce: true);

            // Routing has moved on: the old connections get no new calls; each finishes its calls in flight (up to
            // shutdown_timeout_seconds) in the background, then stops. The next reload does not wait for them.
            foreach (var old in stopped)
            {
                Retire(old);
            }

            return (added, removed, replaced);
        }
        finally
        {
            _reload.Release();
        }
    }

    private void Retire(BackendConnection connection)
    {
        var drain = TimeSpan.FromSeconds(config.Proxy.ShutdownTimeoutSeconds);
        lock (_retiringGate)
        {
            _retiring.Add(connection);
            _retirements.RemoveAll(t => t.IsCompleted);
            _retirements.Add(RetireAsync());
        }

        async Task RetireAsync()
        {
            try
            {
                await Task.Yield();
                await connection.RetireAsync(drain);
            }
            catch (Exception ex)
            {
                LogRetireFailed(connection.Name, ex.Message);
            }
            finally
            {
                lock (_retiringGate)
                {
                    _retiring.Remove(connection);
                }
            }
        }
    }

    /// <summary>The replaced connections still draining.</summary>
    private BackendConnection[] Retiring()
    {
        lock (_retiringGate)
        {
            return [.. _retiring];
        }
    }

    /// <summary>Builds a backend's model (its pipeline and relay) and the connection that supervises it; not started yet.</summary>
    private BackendConnection Connect(BackendConfig backend) =>
        new(BackendModel.Build(backend, resilience, _events.CurrentSoleSession), transports, _events, loggerFactory, resilience.Time);

    private void OnReady(BackendConnection backend)
    {
        if (backend.Config.MirrorOf is null && Volatile.Read(ref _started) == 1)
        {
            NoteAllReady();
        }
    }

    // Raised for routed backends only (BackendEvents leaves mirrors out), after the catalog and clients heard.
    private void OnCatalogChanged(BackendConnection backend, CatalogParts parts)
    {
        if (Volatile.Read(ref _started) == 1)
        {
            NoteAllReady();
        }
    }

    public async ValueTask DisposeAsync()
    {
        var backends = Interlocked.Exchange(ref _backends, []).Concat(Interlocked.Exchange(ref _mirrors, [])).Concat(Retiring());
        await Task.WhenAll(backends.Select(b => b.DisposeAsync().AsTask()));
        Task[] retirements;
        lock (_retiringGate)
        {
            retirements = [.. _retirements];
        }

        await Task.WhenAll(retirements);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutting down: draining {InFlight} calls in flight for up to {Seconds} s")]
    private partial void LogDraining(int inFlight, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown timeout reached with {Left} calls still in flight; stopping backends")]
    private partial void LogDrainTimedOut(int left);

    [LoggerMessage(Level = LogLevel.Information, Message = "All {Total} backends ready")]
    private partial void LogAllReady(int total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}': stopping the connection a reload replaced failed: {Error}")]
    private partial void LogRetireFailed(string backend, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Ready} of {Total} backends ready")]
    private partial void LogStarted(int ready, int total);
}
