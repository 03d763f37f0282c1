using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using McpProxy.Observability;

namespace McpProxy.Caching;

/// <summary>
/// The cache's and the coalescer's instruments on the proxy's Meter (<see cref="ProxyDiagnostics.MeterName"/>), read at
/// each collection: cache hits and misses per backend (<see cref="ByBackend"/>, which <see cref="ResponseCache"/> counts
/// into) and the calls that joined an identical call in flight (<see cref="RequestCoalescer.Coalesced"/>).
/// </summary>
/// <remarks>
/// The counters live here rather than in <see cref="ResponseCache"/> so that registering the instruments at startup does
/// not build the cache: the HybridCache reads Redis as it is built, which must wait for a client's first call.
/// </remarks>
internal sealed class CacheMetrics
{
    public CacheMetrics(IMeterFactory meterFactory, RequestCoalescer coalescer)
    {
        var meter = meterFactory.CreateMeter();
        meter.CreateObservableCounter("mcp_proxy.cache.hits", () => ByBackend
            .Select(c => new Measurement<long>(Interlocked.Read(ref c.Value.Hits), new KeyValuePair<string, object?>("backend", c.Key))),
            description: "Cache hits.");
        meter.CreateObservableCounter("mcp_proxy.cache.misses", () => ByBackend
            .Select(c => new Measurement<long>(Interlocked.Read(ref c.Value.Misses), new KeyValuePair<string, object?>("backend", c.Key))),
            description: "Cache misses.");
        meter.CreateObservableCounter("mcp_proxy.coalesced", () => coalescer.Coalesced, description: "Calls that joined an identical call in flight.");
    }

    /// <summary>The hit, miss and entry counts of each backend's cache (backends whose calls went through the cache).</summary>
    public ConcurrentDictionary<string, CacheCounters> ByBackend { get; } = new(StringComparer.Ordinal);
}
