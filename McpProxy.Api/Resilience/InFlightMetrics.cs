using System.Diagnostics.Metrics;
using McpProxy.Observability;

namespace McpProxy.Resilience;

/// <summary>
/// <c>mcp_proxy.backend.calls_in_flight</c> on the proxy's Meter (<see cref="ProxyDiagnostics.MeterName"/>): the proxied
/// calls in flight to each backend, read from <see cref="InFlightCalls"/> at each collection.
/// </summary>
internal sealed class InFlightMetrics : IProxyInstruments
{
    public InFlightMetrics(IMeterFactory meterFactory, InFlightCalls inFlight)
    {
        var meter = meterFactory.CreateMeter();
        meter.CreateObservableUpDownCounter("mcp_proxy.backend.calls_in_flight", () => inFlight.ByBackend
            .Select(b => new Measurement<int>(b.Value, new KeyValuePair<string, object?>("backend", b.Key))),
            description: "Proxied calls in flight to a backend (a call whose client went away leaves at once: it is cancelled).");
    }
}
