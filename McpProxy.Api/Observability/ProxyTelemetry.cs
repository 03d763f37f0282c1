using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Claims;
using System.Text.Json;
using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Configuration;
using McpProxy.Resilience;
using McpProxy.Routing;

namespace McpProxy.Observability;

/// <summary>
/// Observability: for every proxied call one span (<c>McpProxy</c> source, with backend and item attributes; its
/// context reaches HTTP backends in <c>traceparent</c> and <c>_meta</c>), the request counter and latency histogram by
/// method, backend and outcome, and — with <c>[observability] audit = true</c> — one structured audit event on the
/// <c>McpProxy.Audit</c> logger. Gauges report circuit state, ejections, active sessions, child restarts and the cache.
/// </summary>
internal sealed partial class ProxyTelemetry
{
    public const string AuditCategory = "McpProxy.Audit";
    public static readonly ActivitySource Source = new(ResilienceMetrics.MeterName);

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly ILogger _audit;
    private readonly bool _auditEnabled;
    private readonly bool _auditArguments;

    public ProxyTelemetry(
        IMeterFactory meterFactory, ILoggerFactory loggerFactory, ProxyConfig config, BackendRegistry registry, SessionHub sessions, ResponseCache cache,
        RequestCoalescer coalescer, InFlightCalls inFlight)
    {
        var meter = meterFactory.Create(ResilienceMetrics.MeterName);
        _requests = meter.CreateCounter<long>("mcp_proxy.requests", description: "Proxied requests, by method, backend and outcome.");
        _duration = meter.CreateHistogram<double>("mcp_proxy.request.duration", unit: "s", description: "Latency of proxied requests.");
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
        meter.CreateObservableUpDownCounter("mcp_proxy.backend.calls_in_flight", () => inFlight.ByBackend
            .Select(b => new Measurement<int>(b.Value, new KeyValuePair<string, object?>("backend", b.Key))),
            description: "Proxied calls in flight to a backend (a call whose client went away leaves at once: it is cancelled).");
        var proxyName = new KeyValuePair<string, object?>("proxy", config.Proxy.Name);
        meter.CreateObservableUpDownCounter("mcp_proxy.sessions.active", () => new Measurement<int>(sessions.ActiveSessions, proxyName), description: "Client sessions open on the proxy.");
        meter.CreateObservableCounter("mcp_proxy.session.notifications_dropped", () => new Measurement<long>(sessions.DroppedNotifications, proxyName),
            description: "Notifications dropped because a client session's outbound queue was full (it reads slower than they arrive).");
        meter.CreateObservableCounter("mcp_proxy.cache.hits", () => cache.Counters
            .Select(c => new Measurement<long>(Interlocked.Read(ref c.Value.Hits), new KeyValuePair<string, object?>("backend", c.Key))),
            description: "Cache hits.");
        meter.CreateObservableCounter("mcp_proxy.cache.misses", () => cache.Counters
            .Select(c => new Measurement<long>(Interlocked.Read(ref c.Value.Misses), new KeyValuePair<string, object?>("backend", c.Key))),
            description: "Cache misses.");
        meter.CreateObservableCounter("mcp_proxy.coalesced", () => coalescer.Coalesced, description: "Calls that joined an identical call in flight.");

        _audit = loggerFactory.CreateLogger(AuditCategory);
        _auditEnabled = config.Observability.Audit;
        _auditArguments = config.Observability.AuditArguments;
    }

    public Activity? StartCall(string method, string backend, string item)
    {
        var activity = Source.StartActivity($"proxy {method}", ActivityKind.Internal);
        activity?.SetTag("mcp_proxy.backend", backend);
        activity?.SetTag("mcp_proxy.method", method);
        activity?.SetTag("mcp_proxy.item", item);
        return activity;
    }

    public void EndCall(Activity? activity, string method, string backend, string item, string outcome, TimeSpan elapsed, ClaimsPrincipal? user, IDictionary<string, JsonElement>? arguments)
    {
        var tags = new TagList { { "method", method }, { "backend", backend }, { "outcome", outcome } };
        _requests.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, new TagList { { "method", method }, { "backend", backend } });

        if (activity is not null)
        {
            activity.SetTag("mcp_proxy.outcome", outcome);
            if (outcome is "error" or "rejected")
            {
                activity.SetStatus(ActivityStatusCode.Error, outcome);
            }
        }

        if (_auditEnabled)
        {
            LogAudit(_audit, CallerIdentity.Of(user), method, backend, item, outcome, Math.Round(elapsed.TotalMilliseconds, 1),
                // Serialized only when audit_arguments asks for them, never on the plain call path.
                _auditArguments ? ProxyHandlers.ArgumentsNode(arguments)?.ToJsonString() : null);
        }
    }

    [LoggerMessage(EventId = 1, EventName = "McpProxyAudit", Level = LogLevel.Information,
        Message = "audit caller={Caller} method={Method} backend={Backend} item={Item} outcome={Outcome} duration_ms={DurationMs} arguments={Arguments}")]
    private static partial void LogAudit(ILogger logger, string caller, string method, string backend, string item, string outcome, double durationMs, string? arguments);
}
