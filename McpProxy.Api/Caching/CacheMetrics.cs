using System.Diagnostics.Metrics;
using McpProxy.Observability;

namespace McpProxy.Caching;

/// <summary>
/// The cache's and the coalescer's instruments on the proxy's Meter (<see cref="ProxyDiagnostics.MeterName"/>), read at
/// each collection: cache hits and misses per backend (<see cref="ResponseCache.Counters"/>) and the calls that joined an
/// identical call in flight (<see cref="RequestCoalescer.Coalesced"/>).
/// </summary>
internal sealed class CacheMetrics : IProxyInstruments
{
    public CacheMetrics(IMeterFactory meterFactory, ResponseCache cache, RequestCoalescer coalescer)
    {
        var meter = meterFactory.CreateMeter();
        meter.CreateObservableCounter("mcp_proxy.cache.hits", () => cache.Counters
            .Select(c => new Measurement<long>(Interlocked.Read(ref c.Value.Hits), new KeyValuePair<string, object?>("backend", c.Key))),
            description: "Cache hits.");
        meter.CreateObservableCounter("mcp_proxy.cache.misses", () => cache.Counters
            .Select(c => new Measurement<long>(Interlocked.Read(ref c.Value.Misses), new KeyValuePair<string, object?>("backend", c.Key))),
            description: "Cache misses.");
        meter.CreateObservableCounter("mcp_proxy.coalesced", () => coalescer.Coalesced, description: "Calls that joined an identical call in flight.");
    }
}
