using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Calls;
using McpProxy.Mirroring;
using McpProxy.Observability;
using McpProxy.Resilience;
using McpProxy.Sessions;

namespace McpProxy.Pipeline;

internal static class PipelineServices
{
    /// <summary>The routing step, the filters of <see cref="ProxyPipeline"/> and the SDK adapters.</summary>
    public static IServiceCollection AddProxyPipeline(this IServiceCollection services)
    {
        services.AddSingleton<CallRouter>();
        services.AddSingleton<ICallFailures, CallFailures>();
        services.AddSingleton<MirrorFilter>();
        services.AddSingleton<TelemetryFilter>();
        services.AddSingleton<ProgressFilter>();
        services.AddSingleton<CacheFilter>();
        services.AddSingleton<CoalescingFilter>();
        services.AddSingleton<CallerContextFilter>();
        services.AddSingleton<DrainFilter>();
        services.AddSingleton<BackendCallFilter>();
        services.AddSingleton<BackendSend>();
        services.AddSingleton<ProxyPipeline>();
        services.AddSingleton<ProxyHandlers>();
        services.AddSingleton<BackendSubscriptions>();
        services.AddSingleton<IBackendSubscriptions>(sp => sp.GetRequiredService<BackendSubscriptions>());
        return services;
    }
}
