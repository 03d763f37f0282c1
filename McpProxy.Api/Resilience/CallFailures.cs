using McpProxy.Calls;
using ModelContextProtocol;

namespace McpProxy.Resilience;

/// <summary>The failure classifier's answers for the telemetry filter (<see cref="ICallFailures"/>).</summary>
internal sealed class CallFailures(InFlightCalls inFlight) : ICallFailures
{
    public bool IsStopping => inFlight.IsStopping;

    public bool IsRefusal(Exception exception) => exception is ProxyRefusedException;

    public bool IsBackendError(Exception exception) =>
        exception.InnerException is McpProtocolException and not BackendUnavailableException;
}
