using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;

namespace McpProxy.Mrtr;

/// <summary>
/// Multi Round-Trip Requests for modern (2026-07-28) callers: opens the <c>requestState</c> of a retry, starts a bridged
/// call (<see cref="BridgeCall"/>) or resumes a parked one. A parked exchange lives on the replica that owns the backend
/// call; a retry that lands on another replica is routed to the owner over Redis pub/sub when the proxy has a Redis
/// connection (<see cref="OwnerRouting"/>), and refused with <c>-32602</c> ("no longer available") otherwise, or when
/// the owner is gone. A modern backend's state (pass-through) needs none of this: any replica finishes it.
/// </summary>
internal sealed class MrtrBridge(RequestStateProtector states, BridgeRegistry registry, OwnerRouting routing, TimeProvider time)
{
    /// <summary>The retry's state, verified and bound to the method, item and caller; null when the request has none.</summary>
    public MrtrState? Open(RequestParams? request, string method, string item, string caller) =>
        request?.RequestState is { } value ? states.Open(value, method, item, caller) : null;

    /// <summary>A new bridged call for a modern caller's request-bound server.</summary>
    public BridgeCall Begin(object session, MrtrTarget target, ClientCapabilities? callerCapabilities)
    {
        var call = new BridgeCall(target, callerCapabilities, states, registry, time);
        call.Attach(session);
        return call;
    }

    /// <summary>The retry of a parked exchange (a bridge state).</summary>
    public Task<object> ResumeAsync(MrtrState state, RequestParams request, CancellationToken cancellationToken)
    {
        if (state.Replica != registry.ReplicaId)
        {
            if (routing.Enabled)
            {
                return routing.RouteAsync(state, request, cancellationToken);
            }

            throw RequestStateProtector.Refused(
                "the call it belongs to is no longer available here (it is parked on another proxy replica and there is no Redis to reach it, or that replica restarted)");
        }

        var call = registry.TryTake(state.Exchange ?? "")
            ?? throw RequestStateProtector.Refused("the call it belongs to is no longer available (it ended, expired, or was already answered)");
        return call.ResumeAsync(request.InputResponses, cancellationToken);
    }
}
