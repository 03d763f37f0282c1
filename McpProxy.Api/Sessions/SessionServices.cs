using McpProxy.Observability;
using McpProxy.Backends;

namespace McpProxy.Sessions;

internal static class SessionServices
{
    /// <summary>Client sessions: the hub that relays to them, and the <c>[proxy.sessions]</c> caps.</summary>
    public static IServiceCollection AddProxySessions(this IServiceCollection services)
    {
        services.AddSingleton<SessionHub>();
        services.AddSingleton<SessionLimiter>();
        services.AddProxyInstruments<SessionMetrics>();
        // list_changed, progress, logs and resources/updated to clients; their log level; the sole session.
        services.AddOptions<BackendEvents>().Configure<SessionHub>((events, sessions) =>
        {
            events.ListChanged += sessions.BroadcastListChanged;
            events.MessageRead += sessions.OnBackendMessageRead;
            events.BackendLogLevel = () => sessions.BackendLogLevel;
            events.SoleSession = sessions.SoleSession;
        });
        return services;
    }
}
