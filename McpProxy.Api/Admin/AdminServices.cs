using McpProxy.Backends;
using McpProxy.Resilience;

namespace McpProxy.Admin;

internal static class AdminServices
{
    /// <summary>The health checks behind <c>/health</c> and the admin API's view of the backends.</summary>
    public static IServiceCollection AddProxyAdmin(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<BackendsHealthCheck>("backends")
            .AddCheck<ShutdownHealthCheck>("shutdown"); // 503 once the shutdown drain begins
        return services;
    }
}
