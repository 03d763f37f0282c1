using System.Diagnostics;
using System.Globalization;
using System.Diagnostics.Metrics;
using System.Security.Claims;
using System.Text.Json;
using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Configuration;
using McpProxy.Resilience;
using McpProxy.Routing;
using McpProxy.Sessions;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Server;

namespace McpProxy.Observability;

/// <summary>
/// Observability: for every proxied call one span (<c>McpProxy</c> source, named <c>{mcp.method.name} {target}</c> as the
/// OpenTelemetry semantic conventions for MCP ask, with their attributes and the proxy's backend and outcome; its
/// context reaches HTTP backends in <c>traceparent</c> and <c>_meta</c>), the request counter and latency histogram by
/// method, backend and outcome, <c>mcp.client.operation.duration</c> per backend request (with <c>mcp_proxy.backend</c>)
/// and — with <c>[observability] audit = true</c> — one structured audit event on the <c>McpProxy.Audit</c> logger.
/// Gauges report circuit state, ejections, active sessions, child restarts and the cache.
/// </summary>
/// <remarks>
/// The proxy's server side is measured by the MCP SDK itself (<c>mcp.server.operation.duration</c>, meter
/// <c>Experimental.ModelContextProtocol</c>). The SDK's own <c>mcp.client.operation.duration</c> has no backend attribute,
/// so <see cref="ObservabilityServices"/> drops it in favour of the one recorded here.
/// </remarks>
internal sealed partial class ProxyTelemetry
{
    public const string AuditCategory = "McpProxy.Audit";
    public static readonly ActivitySource Source = new(ResilienceMetrics.MeterName);

    /// <summary>Semconv: client-side duration of one MCP request, in seconds.</summary>
    public const string ClientOperationDuration = "mcp.client.operation.duration";

    /// <summary>
    /// The histogram bucket boundaries (seconds) of the OpenTelemetry semantic conventions for MCP, the same the MCP SDK
    /// gives its own histograms: a proxied call lands in the bucket of its latency, not all in one.
    /// </summary>
    public static readonly IReadOnlyList<double> SemconvBuckets = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

    private static readonly InstrumentAdvice<double> DurationAdvice = new() { HistogramBucketBoundaries = SemconvBuckets };

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _clientDuration;
    private readonly ILogger _audit;
    private readonly bool _auditEnabled;
    private readonly bool _auditArguments;

    public ProxyTelemetry(
        IMeterFactory meterFactory, ILoggerFactory loggerFactory, ProxyConfig config, BackendRegistry registry, SessionHub sessions, ResponseCache cache,
        RequestCoalescer coalescer, InFlightCalls inFlight)
    {
        var meter = meterFactory.Create(ResilienceMetrics.MeterName);
        _requests = meter.CreateCounter<long>("mcp_proxy.requests", description: "Proxied requests, by method, backend and outcome.");
        _duration = meter.CreateHistogram("mcp_proxy.request.duration", unit: "s", description: "Latency of proxied requests.", advice: DurationAdvice);
        _clientDuration = meter.CreateHistogram(ClientOperationDuration, unit: "s",
            description: "Duration of the MCP requests the proxy sends to its backends, per backend.", advice: DurationAdvice);
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

    /// <summary>
    /// The span of one proxied call, named <c>{mcp.method.name} {target}</c> (target: the tool or prompt name or the
    /// resource URI the client used), with the semconv attributes and the proxy's own.
    /// </summary>
    public Activity? StartCall(string method, string backend, string item, McpServer? session = null)
    {
        var activity = Source.StartActivity(item.Length == 0 ? method : $"{method} {item}", ActivityKind.Internal);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("mcp.method.name", method);
        if (TargetAttribute(method) is { } target && item.Length > 0)
        {
            activity.SetTag(target, item);
        }

        if (session is not null)
        {
            activity.SetTag("mcp.protocol.version", session.NegotiatedProtocolVersion);
            // Only session-based protocol versions have a session id; a stateless server has none.
            activity.SetTag("mcp.session.id", session.SessionId);
        }

        activity.SetTag("network.transport", "tcp");
        activity.SetTag("mcp_proxy.backend", backend);
        activity.SetTag("mcp_proxy.method", method);
        activity.SetTag("mcp_proxy.item", item);
        return activity;
    }

    /// <summary>The semconv attribute naming a method's target: the tool, the prompt or the resource URI.</summary>
    public static string? TargetAttribute(string method) => method switch
    {
        "tools/call" => "gen_ai.tool.name",
        "prompts/get" => "gen_ai.prompt.name",
        "resources/read" or "resources/subscribe" or "resources/unsubscribe" => "mcp.resource.uri",
        _ => null,
    };

    /// <summary>
    /// Semconv <c>error.type</c>: the JSON-RPC error code of an MCP error, <c>tool_error</c> for a tool result with
    /// <c>isError</c>, otherwise the exception's type name; null for a success.
    /// </summary>
    public static string? ErrorType(string outcome, Exception? exception) => exception switch
    {
        McpProtocolException mcp => ((int)mcp.ErrorCode).ToString(CultureInfo.InvariantCulture),
        OperationCanceledException => "cancelled",
        not null => exception.GetType().FullName,
        null => outcome switch { "ok" => null, "tool_error" => "tool_error", _ => outcome },
    };

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
        if (TargetAttribute(method) is { } target && method != "resources/read")
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

    public void EndCall(Activity? activity, string method, string backend, string item, string outcome, TimeSpan elapsed, ClaimsPrincipal? user, IDictionary<string, JsonElement>? arguments, Exception? exception = null)
    {
        var tags = new TagList { { "method", method }, { "backend", backend }, { "outcome", outcome } };
        _requests.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, new TagList { { "method", method }, { "backend", backend } });

        if (activity is not null)
        {
            activity.SetTag("mcp_proxy.outcome", outcome);
            if (ErrorType(outcome, exception) is { } errorType)
            {
                activity.SetTag("error.type", errorType);
            }

            if (outcome is "error" or "rejected")
            {
                activity.SetStatus(ActivityStatusCode.Error, outcome);
            }
        }

        if (_auditEnabled)
        {
            LogAudit(_audit, CallerIdentity.Of(user), method, backend, item, outcome, Math.Round(elapsed.TotalMilliseconds, 1),
                // Serialized only when audit_arguments asks for them, never on the plain call path.
                _auditArguments ? McpProxy.Calls.CallArguments.ToNode(arguments)?.ToJsonString() : null);
        }
    }

    [LoggerMessage(EventId = 1, EventName = "McpProxyAudit", Level = LogLevel.Information,
        Message = "audit caller={Caller} method={Method} backend={Backend} item={Item} outcome={Outcome} duration_ms={DurationMs} arguments={Arguments}")]
    private static partial void LogAudit(ILogger logger, string caller, string method, string backend, string item, string outcome, double durationMs, string? arguments);
}
