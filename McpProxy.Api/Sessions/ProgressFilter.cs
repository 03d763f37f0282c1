using McpProxy.Calls;

namespace McpProxy.Sessions;

/// <summary>
/// Progress and log lines the backend sent before its response reach the caller before the result does: when anything
/// was queued for the caller's session during the call, the result waits (briefly) until it has been sent.
/// </summary>
internal sealed class ProgressFilter : ICallFilter
{
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(2);

    // A call without a session (the fast path's) has nothing queued for it: no await of its own.
    public ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken) =>
        call.ClientSession is ClientSession session ? InvokeAsync(call, session, next, cancellationToken) : next(call, cancellationToken);

    private static async ValueTask<object> InvokeAsync(CallContext call, ClientSession session, CallDelegate next, CancellationToken cancellationToken)
    {
        var result = await next(call, cancellationToken);
        if (session.Enqueued != call.EnqueuedBefore)
        {
            await session.DrainAsync(DrainLimit);
        }

        return result;
    }
}
