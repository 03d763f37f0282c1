using McpProxy.Calls;
using McpProxy.Configuration;

namespace McpProxy.Caching;

/// <summary>
/// Request coalescing (<c>[proxy.performance] coalesce_requests</c>): identical concurrent calls that are safe to repeat
/// share one backend call (<see cref="RequestCoalescer"/>). A retry of an <c>input_required</c> round never shares one: the
/// routing step marks it not repeatable.
/// </summary>
internal sealed class CoalescingFilter(ProxyConfig config, RequestCoalescer coalescer) : ICallFilter
{
    public ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken) =>
        config.Performance.CoalesceRequests && call.Repeatable
            ? new ValueTask<object>(coalescer.RunAsync(CacheKeys.Of(call), c => next(call, c).AsTask(), cancellationToken))
            : next(call, cancellationToken);
}
