namespace McpProxy.Sessions;

internal static class SessionServices
{
    /// <summary>Client sessions: the hub that relays to them, and the <c>[proxy.sessions]</c> caps.</summary>
    public static IServiceCollection AddProxySessions(this IServiceCollection services)
    {
        services.AddSingleton<SessionHub>();
        services.AddSingleton<SessionLimiter>();
        return services;
    }
}
