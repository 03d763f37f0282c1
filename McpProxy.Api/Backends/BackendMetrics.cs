using System.Diagnostics;
using System.Diagnostics.Metrics;
using McpProxy.Configuration;
using McpProxy.Observability;
using McpProxy.Resilience;
using ModelContextProtocol.Client;

namespace McpProxy.Backends;

/// <summary>
/// The backends' instruments on the proxy's Meter (<see cref="ProxyDiagnostics.MeterName"/>): whether each backend is
/// up, its restarts, its circuit state and outlier ejection (read from the <see cref="BackendRegistry"/> at each
/// collection), and <c>mcp.client.operation.duration</c> for every request the proxy sends to a backend (with
/// <c>mcp_proxy.backend</c>).
/// </summary>
/// <remarks>
/// The MCP SDK's own <c>mcp.client.operation.duration</c> has no backend attribute, so
/// <see cref="ObservabilityServices"/> drops it in favour of the one recorded here.
/// </remarks>
internal sealed class BackendMetrics : IProxyInstruments
{
    private readonly Histogram<double> _clientDuration;

    public BackendMetrics(IMeterFactory meterFactory, BackendRegistry registry)
    {
        var meter = meterFactory.CreateMeter();
        _clientDuration = meter.CreateHistogram(ProxyDiagnostics.ClientOperationDuration, unit: "s",
            description: "Duration of the MCP requests the proxy sends to its backends, per backend.", advice: ProxyDiagnostics.DurationAdvice);
        meter.CreateObservableGauge("mcp_proxy.backend.circuit_state", () => registry.Backends
            .Where(b => b.Resilience.Breaker is not null)
            .Select(b => new Measurement<int>((int)b.Resilience.Breaker!.State, new KeyValuePair<string, object?>("backend", b.Name))),
            description: "Circuit state: 0 closed, 1 open, 2 half-open.");
        meter.CreateObservableGauge("mcp_proxy.backend.ejected", () => registry.Backends
            .Where(b => b.Resilience.Outlier is not null)
            .Select(b => new Measurement<int>(b.Resilience.Outlier!.IsEjected ? 1 : 0, new KeyValuePair<string, object?>("backend", b.Name))),
            description: "1 while the backend is ejected by outlier detection.");
        meter.CreateObservableGauge("mcp_proxy.backend.up", () => registry.Backends
            .Select(b => new Measurement<int>(b.State == BackendState.Ready ? 1 : 0, new KeyValuePair<string, object?>("backend", b.Name))),
            description: "1 while the backend is connected and ready.");
        meter.CreateObservableCounter("mcp_proxy.backend.restarts", () => registry.Backends
            .Select(b => new Measurement<long>(b.Restarts, new KeyValuePair<string, object?>("backend", b.Name))),
            description: "Reconnects of a backend (child restarts for stdio).");
    }

    /// <summary>
    /// Records <c>mcp.client.operation.duration</c> for one request the proxy sent to a backend (every attempt, cache
    /// hits excluded).
    /// </summary>
    public void RecordBackendRequest(BackendConnection backend, McpClient? client, string method, string originalItem, TimeSpan elapsed, string? errorType)
    {
        if (!_clientDuration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { "mcp.method.name", method },
            { "mcp_proxy.backend", backend.Name },
            { "network.transport", backend.Config.Transport == BackendTransport.Stdio ? "pipe" : "tcp" },
        };
        if (ProxyTelemetry.TargetAttribute(method) is { } target && method != "resources/read")
        {
            // (Resource URIs are unbounded: on the span, never a metric label.)
            tags.Add(target, originalItem);
        }

        if (client?.NegotiatedProtocolVersion is { } version)
        {
            tags.Add("mcp.protocol.version", version);
        }

        if (errorType is not null)
        {
            tags.Add("error.type", errorType);
        }

        _clientDuration.Record(elapsed.TotalSeconds, tags);
    }
}
