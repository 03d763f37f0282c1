using McpProxy.Observability;
namespace McpProxy.Backends;

internal static class BackendServices
{
    /// <summary>The backends: the registry (a hosted service owning the connections) and the HTTP backends' shared pool.</summary>
    public static IServiceCollection AddProxyBackends(this IServiceCollection services)
    {
        services.AddSingleton<BackendRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<BackendRegistry>());
        services.AddSingleton<IBackendTransportFactory, BackendTransportFactory>();
        services.AddProxyInstruments<BackendMetrics>();
        // Backends report upward through BackendEvents; each layer above subscribes in its own AddProxyX (this folder references none).
        services.AddOptions<BackendEvents>();
        // HTTP backends: a shared pool, service discovery resolved once per backend session (BackendHttp).
        services.AddSingleton(sp => new BackendHttp(sp.GetService<Microsoft.Extensions.ServiceDiscovery.ServiceEndpointResolver>()));
        return services;
    }
}
