using McpProxy.Calls;
using McpProxy.Resilience;

namespace McpProxy.Backends;

/// <summary>
/// The backend's resilience pipeline around the send (<see cref="BackendResilience"/>: timeouts, retries, hedging,
/// breaker, limits), counted on the backend and cut with it: a call cut on purpose (a reload past its drain, the
/// shutdown timeout) tells its caller which, even when its own request is being torn down at the same moment.
/// </summary>
internal sealed class BackendCallFilter : ICallFilter
{
    public async ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken)
    {
        var backend = call.Connection();
        using var onBackend = backend.BeginCall();
        try
        {
            // The attempt's state goes through the pipeline: no closure per call; the backend's cut ends it too.
            return await backend.Resilience.ExecuteAsync(
                static (attempt, ct) => attempt.next(attempt.call, ct), (call, next), call.Repeatable, call.Kind, call.Item, cancellationToken, backend.CutToken);
        }
        catch (Exception ex) when (backend.CutToken.IsCancellationRequested && backend.CutReason is { } reason && ex is not BackendCallCutException { IsCut: true })
        {
            throw new BackendCallCutException(reason, ex, isCut: true);
        }
    }
}
