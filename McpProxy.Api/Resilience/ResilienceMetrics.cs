using System.Diagnostics.Metrics;
using McpProxy.Observability;

namespace McpProxy.Resilience;

/// <summary>The resilience counters of the proxy's Meter (<see cref="ProxyDiagnostics.MeterName"/>), tagged with the backend.</summary>
internal sealed class ResilienceMetrics
{
    private readonly Counter<long> _retries;
    private readonly Counter<long> _hedges;
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _ejections;
    private readonly Counter<long> _circuitTransitions;
    private readonly Counter<long> _mirrored;

    public ResilienceMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.CreateMeter();
        _retries = meter.CreateCounter<long>("mcp_proxy.backend.retries", description: "Retries sent to a backend.");
        _hedges = meter.CreateCounter<long>("mcp_proxy.backend.hedges", description: "Hedged requests sent to a backend.");
        _rejections = meter.CreateCounter<long>("mcp_proxy.backend.rejections", description: "Calls refused before reaching a backend, by reason.");
        _ejections = meter.CreateCounter<long>("mcp_proxy.backend.ejections", description: "Outlier ejections of a backend.");
        _circuitTransitions = meter.CreateCounter<long>("mcp_proxy.backend.circuit_transitions", description: "Circuit breaker state changes, by new state.");
        _mirrored = meter.CreateCounter<long>("mcp_proxy.backend.mirrored", description: "Mirrored requests, by outcome.");
    }

    public void Retry(string backend) => _retries.Add(1, new KeyValuePair<string, object?>("backend", backend));
    public void Hedge(string backend) => _hedges.Add(1, new KeyValuePair<string, object?>("backend", backend));
    public void Rejected(string backend, string reason) =>
        _rejections.Add(1, new KeyValuePair<string, object?>("backend", backend), new KeyValuePair<string, object?>("reason", reason));
    public void Ejected(string backend) => _ejections.Add(1, new KeyValuePair<string, object?>("backend", backend));
    public void CircuitTransition(string backend, CircuitState state) =>
        _circuitTransitions.Add(1, new KeyValuePair<string, object?>("backend", backend), new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()));
    public void Mirrored(string backend, string outcome) =>
        _mirrored.Add(1, new KeyValuePair<string, object?>("backend", backend), new KeyValuePair<string, object?>("outcome", outcome));
}
