using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using McpProxy.Configuration;
using ModelContextProtocol;
using ModelContextProtocol.Server;

namespace McpProxy.Observability;

/// <summary>
/// The call telemetry API: for every proxied call one span (<see cref="ProxyDiagnostics.ActivitySource"/>, named
/// <c>{mcp.method.name} {target}</c> as the OpenTelemetry semantic conventions for MCP ask, with their attributes and the
/// proxy's backend and outcome; its context reaches HTTP backends in <c>traceparent</c> and <c>_meta</c>), the request
/// counter and latency histogram by method, backend and outcome, and — with <c>[observability] audit = true</c> — one
/// structured audit event on the <see cref="ProxyDiagnostics.AuditCategory"/> logger. It takes plain values only.
/// </summary>
/// <remarks>
/// Each component registers its own instruments on the same Meter: backends (up, restarts, circuit state, ejections and
/// <c>mcp.client.operation.duration</c> per backend request: BackendMetrics), calls in flight (InFlightMetrics), sessions
/// (SessionMetrics), the cache and the coalescer (CacheMetrics), the resilience counters (ResilienceMetrics). The proxy's
/// server side is measured by the MCP SDK itself (<c>mcp.server.operation.duration</c>, meter
/// <c>Experimental.ModelContextProtocol</c>).
/// </remarks>
internal sealed partial class ProxyTelemetry
{
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly ILogger _audit;
    private readonly bool _auditEnabled;
    private readonly bool _auditArguments;

    /// <param name="instruments">
    /// The other components' instruments (<see cref="ProxyDiagnostics.AddProxyInstruments{T}"/>): built here, they are
    /// registered on the Meter together with the call telemetry's.
    /// </param>
    public ProxyTelemetry(IMeterFactory meterFactory, ILoggerFactory loggerFactory, ProxyConfig config, IEnumerable<IProxyInstruments> instruments)
    {
        ArgumentNullException.ThrowIfNull(instruments);
        var meter = meterFactory.CreateMeter();
        _requests = meter.CreateCounter<long>("mcp_proxy.requests", description: "Proxied requests, by method, backend and outcome.");
        _duration = meter.CreateHistogram("mcp_proxy.request.duration", unit: "s", description: "Latency of proxied requests.", advice: ProxyDiagnostics.DurationAdvice);

        _audit = loggerFactory.CreateLogger(ProxyDiagnostics.AuditCategory);
        _auditEnabled = config.Observability.Audit;
        _auditArguments = config.Observability.AuditArguments;
    }

    /// <summary>
    /// The span of one proxied call, named <c>{mcp.method.name} {target}</c> (target: the tool or prompt name or the
    /// resource URI the client used), with the semconv attributes and the proxy's own.
    /// </summary>
    /// <remarks>Without an ActivityListener nothing is built, not even the span's name; unsampled, only the name.</remarks>
    public Activity? StartCall(string method, string backend, string item, string? protocolVersion = null, string? sessionId = null)
    {
        if (!ProxyDiagnostics.ActivitySource.HasListeners())
        {
            return null;
        }

        var activity = ProxyDiagnostics.ActivitySource.StartActivity(item.Length == 0 ? method : $"{method} {item}", ActivityKind.Internal);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("mcp.method.name", method);
        if (TargetAttribute(method) is { } target && item.Length > 0)
        {
            activity.SetTag(target, item);
        }

        if (protocolVersion is not null)
        {
            activity.SetTag("mcp.protocol.version", protocolVersion);
        }

        if (sessionId is not null)
        {
            // Only session-based protocol versions have a session id; a stateless server has none.
            activity.SetTag("mcp.session.id", sessionId);
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

    /// <summary>Whether the audit event carries the call's arguments (<c>audit</c> and <c>audit_arguments</c>): only then are they read.</summary>
    public bool AuditsArguments => _auditEnabled && _auditArguments;

    /// <remarks>
    /// Allocation-free unless there is a span or an audit event: the tags travel in <see cref="TagList"/> structs (inline
    /// up to eight), and the audit event (caller identity, arguments) is built only when the audit logger is enabled.
    /// </remarks>
    public void EndCall(Activity? activity, string method, string backend, string item, string outcome, TimeSpan elapsed, ClaimsPrincipal? user, IDictionary<string, JsonElement>? arguments, Exception? exception = null)
    {
        if (_requests.Enabled)
        {
            _requests.Add(1, new TagList { { "method", method }, { "backend", backend }, { "outcome", outcome } });
        }

        if (_duration.Enabled)
        {
            _duration.Record(elapsed.TotalSeconds, new TagList { { "method", method }, { "backend", backend } });
        }

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

        // Nothing of the event (caller identity, rounded duration, arguments) is built unless it is written.
        if (_auditEnabled && _audit.IsEnabled(LogLevel.Information))
        {
            LogAudit(_audit, CallerIdentity.Of(user), method, backend, item, outcome, Math.Round(elapsed.TotalMilliseconds, 1),
                // Serialized only when audit_arguments asks for them, never on the plain call path.
                _auditArguments ? ArgumentsJson(arguments) : null);
        }
    }

    private static string? ArgumentsJson(IDictionary<string, JsonElement>? arguments) =>
        arguments is null ? null : JsonSerializer.SerializeToNode(arguments, McpJsonUtilities.DefaultOptions)?.ToJsonString();

    [LoggerMessage(EventId = 1, EventName = "McpProxyAudit", Level = LogLevel.Information,
        Message = "audit caller={Caller} method={Method} backend={Backend} item={Item} outcome={Outcome} duration_ms={DurationMs} arguments={Arguments}")]
    private static partial void LogAudit(ILogger logger, string caller, string method, string backend, string item, string outcome, double durationMs, string? arguments);
}
