using McpProxy.Observability;
namespace McpProxy.Resilience;

internal static class ResilienceRegistration
{
    /// <summary>The shared resilience state (outlier ejections, metrics, time) and the shutdown drain.</summary>
    public static IServiceCollection AddProxyResilience(this IServiceCollection services)
    {
        services.AddSingleton<OutlierEjections>();
        services.AddSingleton<ResilienceMetrics>();
        services.AddSingleton<ResilienceServices>();
        services.AddSingleton<InFlightCalls>();
        services.AddProxyInstruments<InFlightMetrics>();
        return services;
    }
}
