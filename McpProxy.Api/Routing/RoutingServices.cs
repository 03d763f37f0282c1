namespace McpProxy.Routing;

internal static class RoutingServices
{
    /// <summary>The aggregate, namespaced catalog.</summary>
    public static IServiceCollection AddProxyRouting(this IServiceCollection services) => services.AddSingleton<ProxyCatalog>();
}
