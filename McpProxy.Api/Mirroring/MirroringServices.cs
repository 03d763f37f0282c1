using McpProxy.Backends;

namespace McpProxy.Mirroring;

internal static class MirroringServices
{
    /// <summary>Traffic mirroring (<c>mirror_of</c>).</summary>
    public static IServiceCollection AddProxyMirroring(this IServiceCollection services)
    {
        services.AddSingleton<TrafficMirror>();
        services.AddOptions<BackendEvents>().Configure<TrafficMirror>((events, mirror) => events.BackendsChanged += (_, mirrors) => mirror.SetMirrors(mirrors));
        return services;
    }
}
