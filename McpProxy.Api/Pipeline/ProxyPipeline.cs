using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Calls;
using McpProxy.Mirroring;
using McpProxy.Observability;
using McpProxy.Resilience;
using McpProxy.Sessions;

namespace McpProxy.Pipeline;

/// <summary>
/// The call pipeline, in order — the one place it is written (README: Architecture). A routed call
/// (<see cref="CallRouter"/>) runs through these filters, outermost first, down to the send:
/// <list type="number">
/// <item>mirror — a sampled copy to the backend's mirrors, fire-and-forget (<see cref="MirrorFilter"/>)</item>
/// <item>telemetry — span, request metrics, audit event, the failure's warning line (<see cref="TelemetryFilter"/>)</item>
/// <item>progress — the backend's progress and logs reach the caller before the result (<see cref="ProgressFilter"/>)</item>
/// <item>cache — per-caller response cache for calls with a TTL (<see cref="CacheFilter"/>)</item>
/// <item>coalescing — identical concurrent repeatable calls share one backend call (<see cref="CoalescingFilter"/>)</item>
/// <item>caller context — forwarded bearer token, the caller's session for the backend's own requests (<see cref="CallerContextFilter"/>)</item>
/// <item>drain — counted for the shutdown drain, refused once it began (<see cref="DrainFilter"/>)</item>
/// <item>resilience — the backend's Polly pipeline, counted on the backend and cut with it (<see cref="BackendCallFilter"/>)</item>
/// <item>send — per attempt: the live client, the request, its failures named (<see cref="BackendSend"/>)</item>
/// </list>
/// Subscriptions (<c>resources/subscribe</c>, <c>resources/unsubscribe</c>) take the short pipeline: drain → resilience → send.
/// </summary>
internal sealed class ProxyPipeline
{
    private readonly CallDelegate _call;
    private readonly CallDelegate _subscription;

    public ProxyPipeline(
        MirrorFilter mirror,
        TelemetryFilter telemetry,
        ProgressFilter progress,
        CacheFilter cache,
        CoalescingFilter coalescing,
        CallerContextFilter callerContext,
        DrainFilter drain,
        BackendCallFilter resilience,
        BackendSend send)
    {
        _call = Build([mirror, telemetry, progress, cache, coalescing, callerContext, drain, resilience], send.SendAsync);
        _subscription = Build([drain, resilience], send.SendAsync);
    }

    /// <summary>Runs an item call (tools/call, prompts/get, resources/read, completion/complete) through the whole pipeline.</summary>
    public ValueTask<object> CallAsync(CallContext call, CancellationToken cancellationToken) => _call(call, cancellationToken);

    /// <summary>Runs a subscription change through the short pipeline.</summary>
    public ValueTask<object> SubscriptionAsync(CallContext call, CancellationToken cancellationToken) => _subscription(call, cancellationToken);

    /// <summary>Chains the filters once, at startup: a call allocates no delegate on its way down.</summary>
    private static CallDelegate Build(ICallFilter[] filters, CallDelegate send)
    {
        var next = send;
        for (var i = filters.Length - 1; i >= 0; i--)
        {
            var filter = filters[i];
            var inner = next;
            next = (call, ct) => filter.InvokeAsync(call, inner, ct);
        }

        return next;
    }
}
