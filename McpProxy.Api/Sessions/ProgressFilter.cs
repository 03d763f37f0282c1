using McpProxy.Calls;

namespace McpProxy.Sessions;

/// <summary>
/// Progress and log lines the backend sent before its response reach the caller before the result does: when anything
/// was queued for the caller's session during the call, the result waits (briefly) until it has been sent.
/// </summary>
internal sealed class ProgressFilter : ICallFilter
{
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(2);

    public async ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken)
    {
        var result = await next(call, cancellationToken);
        if (call.ClientSession is ClientSession session && session.Enqueued != call.EnqueuedBefore)
        {
            await session.DrainAsync(DrainLimit);
        }

        return result;
    }
}
