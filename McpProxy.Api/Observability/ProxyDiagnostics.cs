using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace McpProxy.Observability;

/// <summary>
/// The proxy's diagnostics names in one place: its <c>McpProxy</c> ActivitySource and Meter (the name ServiceDefaults
/// subscribes to), the audit logger's category and the semconv histogram buckets. Every component registers its own
/// instruments on the shared Meter (<see cref="CreateMeter"/>) and is registered with
/// <see cref="AddProxyInstruments{T}"/>.
/// </summary>
internal static class ProxyDiagnostics
{
    /// <summary>Name of the proxy's Meter (and ActivitySource).</summary>
    public const string MeterName = Extensions.McpProxyTelemetryName;

    /// <summary>Name of the proxy's ActivitySource: one span per proxied call.</summary>
    public const string ActivitySourceName = MeterName;

    /// <summary>The logger category of the audit events (<c>[observability] audit</c>).</summary>
    public const string AuditCategory = "McpProxy.Audit";

    /// <summary>Semconv: client-side duration of one MCP request, in seconds.</summary>
    public const string ClientOperationDuration = "mcp.client.operation.duration";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    /// <summary>
    /// The histogram bucket boundaries (seconds) of the OpenTelemetry semantic conventions for MCP, the same the MCP SDK
    /// gives its own histograms: a proxied call lands in the bucket of its latency, not all in one.
    /// </summary>
    public static readonly IReadOnlyList<double> SemconvBuckets = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

    /// <summary>The advice every duration histogram of the proxy is created with (<see cref="SemconvBuckets"/>).</summary>
    public static readonly InstrumentAdvice<double> DurationAdvice = new() { HistogramBucketBoundaries = SemconvBuckets };

    /// <summary>The proxy's shared Meter, from the host's meter factory.</summary>
    public static Meter CreateMeter(this IMeterFactory meterFactory) => meterFactory.Create(MeterName);

    /// <summary>
    /// Registers <typeparamref name="T"/>, a component's instruments, as a singleton <see cref="IProxyInstruments"/>:
    /// <see cref="ProxyTelemetry"/> is built with every one of them, so each component's instruments are registered with
    /// the call telemetry's (as the proxy's handlers are first used), none earlier and none forgotten.
    /// </summary>
    public static IServiceCollection AddProxyInstruments<T>(this IServiceCollection services)
        where T : class, IProxyInstruments
    {
        services.TryAddSingleton<T>();
        services.AddSingleton<IProxyInstruments>(sp => sp.GetRequiredService<T>());
        return services;
    }
}

/// <summary>
/// A component's instruments on the proxy's Meter (<see cref="ProxyDiagnostics.CreateMeter"/>), registered with
/// <see cref="ProxyDiagnostics.AddProxyInstruments{T}"/>: its constructor creates them.
/// </summary>
internal interface IProxyInstruments;
