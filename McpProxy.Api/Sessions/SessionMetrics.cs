using System.Diagnostics.Metrics;
using McpProxy.Configuration;
using McpProxy.Observability;

namespace McpProxy.Sessions;

/// <summary>
/// The client sessions' instruments on the proxy's Meter (<see cref="ProxyDiagnostics.MeterName"/>), read from the
/// <see cref="SessionHub"/> at each collection and labelled with the proxy's name: the sessions open and the
/// notifications dropped because a session's outbound queue was full.
/// </summary>
internal sealed class SessionMetrics : IProxyInstruments
{
    public SessionMetrics(IMeterFactory meterFactory, ProxyConfig config, SessionHub sessions)
    {
        var meter = meterFactory.CreateMeter();
        var proxyName = new KeyValuePair<string, object?>("proxy", config.Proxy.Name);
        meter.CreateObservableUpDownCounter("mcp_proxy.sessions.active", () => new Measurement<int>(sessions.ActiveSessions, proxyName), description: "Client sessions open on the proxy.");
        meter.CreateObservableCounter("mcp_proxy.session.notifications_dropped", () => new Measurement<long>(sessions.DroppedNotifications, proxyName),
            description: "Notifications dropped because a client session's outbound queue was full (it reads slower than they arrive).");
    }
}
