using McpProxy.Backends;

namespace McpProxy.Routing;

internal static class RoutingServices
{
    /// <summary>The aggregate, namespaced catalog.</summary>
    public static IServiceCollection AddProxyRouting(this IServiceCollection services)
    {
        services.AddSingleton<ProxyCatalog>();
        // The catalog follows the set of backends and their lists.
        services.AddOptions<BackendEvents>().Configure<ProxyCatalog>((events, catalog) =>
        {
            events.BackendsChanged += (backends, _) => catalog.SetBackends(backends);
            events.CatalogChanged += (_, _) => catalog.Rebuild();
        });
        return services;
    }
}
