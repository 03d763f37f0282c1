using McpProxy.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace McpProxy.Observability;

/// <summary>Applies <c>[observability]</c>: log level, JSON console logs, the audit logger, Prometheus metrics and OTLP tracing.</summary>
internal static class ObservabilityServices
{
    public const string MetricsPath = "/admin/metrics";

    public static void AddProxyObservability(this WebApplicationBuilder builder, ObservabilityConfig config)
    {
        var minimum = config.LogLevel switch
        {
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => LogLevel.Information,
        };
        builder.Logging.SetMinimumLevel(minimum);

        // The MCP SDK logs whole JSON-RPC messages at Trace: payloads, which may carry tokens and user data. Never
        // below Debug for its categories, whatever log_level says.
        builder.Logging.AddFilter("ModelContextProtocol", minimum < LogLevel.Debug ? LogLevel.Debug : minimum);

        // Audit events are Information: on whenever audit is, whatever log_level says.
        builder.Logging.AddFilter(ProxyDiagnostics.AuditCategory, config.Audit ? LogLevel.Information : LogLevel.None);

        if (config.JsonLogs)
        {
            // Every line carries its time (ISO 8601, UTC): a log shipper must not have to guess it.
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'"; // UTC, below
                o.UseUtcTimestamp = true;
            });
            builder.Services.Configure<ConsoleLoggerOptions>(o => o.FormatterName = ConsoleFormatterNames.Json);
        }

        // Health probes' request lines at Debug, not Information (ProbeLogFilter).
        builder.Services.DemoteHealthProbeRequestLogs(minimum <= LogLevel.Debug, Extensions.HealthEndpointPath, Extensions.AlivenessEndpointPath);

        // The SDK's stack traces for the JSON-RPC errors the proxy answers on purpose go to debug (ExpectedFailureLogging).
        builder.Services.DemoteExpectedSdkFailures();

        // Last among the logging settings: every provider registered so far writes control characters escaped.
        builder.Services.EscapeControlCharactersInLogs();

        // The proxy's server side is measured by the MCP SDK (mcp.server.operation.duration). The SDK's client-side
        // histogram has no backend attribute and would collide with the proxy's per-backend mcp.client.operation.duration
        // (BackendMetrics) under one Prometheus name: only the proxy's is kept.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddView(instrument =>
            instrument.Meter.Name == Extensions.McpSdkTelemetryName && instrument.Name == ProxyDiagnostics.ClientOperationDuration
                ? MetricStreamConfiguration.Drop
                : null));

        if (config.Metrics.Enabled)
        {
            // No scrape-response cache (the exporter's default keeps each answer 300 ms): a scrape right after a change
            // (a backend back up, a call counted) shows it. The endpoint is admin-only, and a scrape costs one pass
            // over the proxy's few instruments.
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddPrometheusExporter(o =>
            {
                o.ScrapeEndpointPath = MetricsPath;
                o.ScrapeResponseCacheDurationMilliseconds = 0;
            }));
        }

        if (config.Tracing.Enabled)
        {
            builder.AddTracing();
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService(config.Tracing.ServiceName))
                .WithTracing(tracing => tracing.AddOtlpExporter("mcp-proxy", o =>
                {
                    if (config.Tracing.Protocol == "http/protobuf")
                    {
                        o.Protocol = OtlpExportProtocol.HttpProtobuf;
                        o.Endpoint = new Uri(new Uri(config.Tracing.Endpoint.TrimEnd('/') + "/"), "v1/traces");
                    }
                    else
                    {
                        o.Protocol = OtlpExportProtocol.Grpc;
                        o.Endpoint = new Uri(config.Tracing.Endpoint);
                    }
                }));
        }
    }
}
