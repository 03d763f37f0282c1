namespace McpProxy.Mirroring;

internal static class MirroringServices
{
    /// <summary>Traffic mirroring (<c>mirror_of</c>).</summary>
    public static IServiceCollection AddProxyMirroring(this IServiceCollection services) => services.AddSingleton<TrafficMirror>();
}
