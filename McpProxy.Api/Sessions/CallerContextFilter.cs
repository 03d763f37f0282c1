using McpProxy.Backends;
using McpProxy.Calls;
using McpProxy.Security;

namespace McpProxy.Sessions;

/// <summary>
/// The caller's context on the flow that calls the backend (the cache and the coalescer may run it on another flow):
/// <c>forward_auth</c>'s bearer token (<see cref="ForwardAuthHandler"/>) and the caller's session for the backend's
/// own requests during the call (sampling, elicitation, roots: <see cref="ClientRequestRelay"/>).
/// </summary>
internal sealed class CallerContextFilter : ICallFilter
{
    public ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken)
    {
        var token = call.BackendConfig.ForwardAuth ? BearerToken.Of(call.User) : null;
        if (token is null && ForwardAuthHandler.Current is null && call.Session is null)
        {
            // The fast path without forward_auth: no token to carry, and a modern backend sends no requests of its own.
            return next(call, cancellationToken);
        }

        return WithCallerAsync(call, token, next, cancellationToken);
    }

    private static async ValueTask<object> WithCallerAsync(CallContext call, string? token, CallDelegate next, CancellationToken cancellationToken)
    {
        using var forwarded = ForwardAuthHandler.Use(token);
        if (call.Session is null)
        {
            return await next(call, cancellationToken);
        }

        using var caller = call.Connection().ClientRequests.Track(call.Session);
        return await next(call, cancellationToken);
    }
}
