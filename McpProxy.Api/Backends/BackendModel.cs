using McpProxy.Configuration;
using McpProxy.Resilience;

namespace McpProxy.Backends;

/// <summary>
/// The immutable part of one backend, built by <see cref="BackendRegistry"/> from its <c>[[backends]]</c> entry (as
/// YARP's <c>ClusterModel</c>): the config, the call timeout, the resilience pipeline and the client-request relay. The
/// live part — the client, its state, restarts, calls in flight — is the <see cref="BackendConnection"/> holding it. A
/// config change builds a new model (and connection); the model is disposed with the connection that holds it.
/// </summary>
internal sealed class BackendModel(BackendConfig config, BackendResilience resilience, ClientRequestRelay clientRequests) : IDisposable
{
    private static readonly TimeSpan DefaultCallTimeout = TimeSpan.FromSeconds(30);

    public string Name => config.Name;

    public BackendConfig Config => config;

    /// <summary>Timeout applied to each call routed to this backend (<c>[backends.timeout] seconds</c>, default 30 s).</summary>
    public TimeSpan CallTimeout { get; } = TimeoutOf(config);

    /// <summary>This backend's resilience pipeline (rate limit, retry, hedging, concurrency, breaker, ejection, timeout).</summary>
    public BackendResilience Resilience => resilience;

    /// <summary>Relays this backend's sampling, elicitation and roots requests to the calling client.</summary>
    public ClientRequestRelay ClientRequests => clientRequests;

    /// <summary>Builds the model of one backend: its pipeline on the shared resilience services, its relay asking <paramref name="soleSession"/>.</summary>
    public static BackendModel Build(BackendConfig config, ResilienceServices resilience, Func<ModelContextProtocol.Server.McpServer?> soleSession) =>
        new(config, new BackendResilience(config, TimeoutOf(config), resilience), new ClientRequestRelay(config.Name, soleSession));

    public static TimeSpan TimeoutOf(BackendConfig backend) =>
        backend.Timeout is { } t ? TimeSpan.FromSeconds(t.Seconds) : DefaultCallTimeout;

    /// <summary>Releases the pipeline's rate limiter timer (<see cref="BackendResilience.Dispose"/>).</summary>
    public void Dispose() => resilience.Dispose();
}
