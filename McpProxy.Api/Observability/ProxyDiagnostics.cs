using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace McpProxy.Observability;

/// <summary>
/// The proxy's diagnostics names in one place: its <c>McpProxy</c> ActivitySource and Meter (the name ServiceDefaults
/// subscribes to), the audit logger's category and the semconv histogram buckets. Every component registers its own
/// instruments on the shared Meter (<see cref="CreateMeter"/>) and is constructed at startup
/// (<see cref="AddProxyInstruments{T}"/>), so its instruments are there before the first scrape.
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
    /// Registers <typeparamref name="T"/> (a component's instruments) as a singleton constructed when the host starts:
    /// observable instruments exist before the first scrape, not from the first call on.
    /// </summary>
    public static IServiceCollection AddProxyInstruments<T>(this IServiceCollection services)
        where T : class
    {
        services.TryAddSingleton<T>();
        services.AddHostedService<InstrumentsAtStartup<T>>();
        return services;
    }

    /// <summary>Resolves <typeparamref name="T"/> when the host builds its hosted services; does nothing else.</summary>
    private sealed class InstrumentsAtStartup<T>(T instruments) : IHostedService
        where T : class
    {
        public T Instruments { get; } = instruments;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
