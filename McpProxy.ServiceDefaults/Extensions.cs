using Microsoft.AspNetCore.Builder;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// ServiceDefaults: the Aspire defaults every McpProxy service calls — OpenTelemetry (logs, metrics; traces and
/// OTLP export when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set), health checks, service discovery and the
/// standard resilience handler on HttpClients.
/// </summary>
public static class Extensions
{
    /// <summary>Name of the MCP SDK's ActivitySource and Meter.</summary>
    public const string McpSdkTelemetryName = "Experimental.ModelContextProtocol";

    /// <summary>Name of McpProxy's own ActivitySource and Meter.</summary>
    public const string McpProxyTelemetryName = "McpProxy";

    /// <summary>A second OTLP (gRPC) endpoint that receives traces too, next to <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public const string SecondaryOtlpEndpointVariable = "OTEL_EXPORTER_OTLP_SECONDARY_ENDPOINT";

    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    private static readonly string[] AspNetCoreMeters =
    [
        "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Http.Connections",
        "Microsoft.AspNetCore.Routing", "Microsoft.AspNetCore.Diagnostics", "Microsoft.AspNetCore.RateLimiting",
        "Microsoft.AspNetCore.Authentication", "Microsoft.AspNetCore.Authorization", "Microsoft.AspNetCore.MemoryPool",
    ];

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set (Aspire sets it to the dashboard); traces also go to
        // OTEL_EXPORTER_OTLP_SECONDARY_ENDPOINT (gRPC) when set, e.g. a Jaeger next to the dashboard.
        // Per-signal AddOtlpExporter rather than UseOtlpExporter: the two cannot be combined, and the second
        // trace exporter needs the per-signal form.
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var secondaryOtlp = builder.Configuration[SecondaryOtlpEndpointVariable];

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            if (otlp)
            {
                logging.AddOtlpExporter();
            }
        });

        KeepSdkMetricTags();
        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                // ASP.NET Core's own meters, which is what AddAspNetCoreInstrumentation enables for metrics on .NET 8+,
                // without the startup filter it also adds (an async layer and its allocation on every request, only
                // to set error.type on a 5xx answered without an exception: ASP.NET Core 11 does that itself).
                .AddMeter(AspNetCoreMeters)
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(McpSdkTelemetryName, McpProxyTelemetryName));

        if (otlp)
        {
            builder.AddTracing();
            builder.Services.AddOpenTelemetry()
                .WithMetrics(metrics => metrics.AddOtlpExporter())
                .WithTracing(tracing => tracing.AddOtlpExporter());
        }

        if (!string.IsNullOrWhiteSpace(secondaryOtlp))
        {
            builder.AddTracing();
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddOtlpExporter("secondary", o =>
            {
                o.Endpoint = new Uri(secondaryOtlp);
                o.Protocol = OtlpExportProtocol.Grpc;
            }));
        }

        return builder;
    }

    /// <summary>
    /// Records spans — the service's own, the MCP SDK's, ASP.NET Core's and HttpClient's — for the trace exporters
    /// added next to it. Called once an exporter is configured (the OTLP endpoints above, the proxy's <c>[tracing]</c>):
    /// with none, no span is recorded, so a request pays for no span it would only discard. W3C trace context still
    /// passes through (ASP.NET Core's request activity, HttpClient's header propagation). Calling it again adds nothing.
    /// </summary>
    public static TBuilder AddTracing<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(TracingRecorded)))
        {
            return builder;
        }

        builder.Services.AddSingleton<TracingRecorded>();
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName, McpSdkTelemetryName, McpProxyTelemetryName)
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx =>
                    !ctx.Request.Path.StartsWithSegments(HealthEndpointPath) && !ctx.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation());
        return builder;
    }

    /// <summary>
    /// The MCP SDK puts the tool, prompt or resource on its <c>mcp.*.operation.duration</c> measurements only when its
    /// ActivitySource has a listener (it reads the target while deciding on a span). A listener that samples nothing keeps
    /// that attribute on the metrics without recording a span when no trace exporter is configured; with one, the
    /// exporter's sampling decides (the most inclusive decision of all listeners wins). Process-wide, added once.
    /// </summary>
    private static void KeepSdkMetricTags()
    {
        if (Interlocked.Exchange(ref s_sdkMetricTagsKept, 1) == 0)
        {
            ActivitySource.AddActivityListener(new ActivityListener
            {
                ShouldListenTo = source => source.Name == McpSdkTelemetryName,
                Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.None,
                SampleUsingParentId = static (ref ActivityCreationOptions<string> _) => ActivitySamplingResult.None,
            });
        }
    }

    private static int s_sdkMetricTagsKept;

    /// <summary>Marks that <see cref="AddTracing{TBuilder}"/> ran.</summary>
    private sealed class TracingRecorded;

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        return builder;
    }

    /// <summary>
    /// Maps <c>/health</c> (every check must pass) and <c>/alive</c> (liveness only) in every environment:
    /// a proxy behind a load balancer needs both.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath, new HealthCheckOptions { ResponseWriter = WriteHealthJsonAsync });
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = r => r.Tags.Contains("live"), ResponseWriter = WriteHealthJsonAsync });
        return app;
    }

    /// <summary>
    /// Writes <c>{"status":"Healthy","checks":{"name":{"status":"...","description":"..."}}}</c>: a load balancer reads the
    /// status code (503 when Unhealthy), an operator reads which check failed. Exceptions are not written (they may hold secrets).
    /// </summary>
    public static async Task WriteHealthJsonAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteString("status", report.Status.ToString());
        json.WriteNumber("durationMs", Math.Round(report.TotalDuration.TotalMilliseconds, 1));
        json.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject(name);
            json.WriteString("status", entry.Status.ToString());
            if (entry.Description is { } description)
            {
                json.WriteString("description", description);
            }

            json.WriteNumber("durationMs", Math.Round(entry.Duration.TotalMilliseconds, 1));
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }
}
