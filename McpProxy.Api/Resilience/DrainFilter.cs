using McpProxy.Calls;

namespace McpProxy.Resilience;

/// <summary>
/// The shutdown drain (<c>[proxy] shutdown_timeout_seconds</c>): counts the call in flight until it ends, and refuses
/// it once shutdown has begun (<see cref="InFlightCalls"/>).
/// </summary>
internal sealed class DrainFilter(InFlightCalls inFlight) : ICallFilter
{
    public async ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken)
    {
        using var scope = inFlight.Enter(call.BackendName);
        return await next(call, cancellationToken);
    }
}
