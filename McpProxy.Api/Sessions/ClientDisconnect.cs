using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Sessions;

/// <summary>
/// A client that goes away cancels its call. In a stateful Streamable HTTP session the SDK (2.4.0) runs a request's
/// handler on the session's own cancellation: when the client drops the POST that carries the request (connection
/// closed, response stream abandoned) only the wait for the response ends, and the handler — our backend call, its
/// concurrency permit, its in-flight count — would run on until the backend answers or the timeout. This incoming
/// message filter links the handler's token to that POST's <see cref="HttpContext.RequestAborted"/> (the handler runs
/// in the request's execution context, so <see cref="IHttpContextAccessor"/> sees it), so the call is cancelled at once
/// and the backend gets <c>notifications/cancelled</c>. Nobody is left to answer, so no response is sent.
/// </summary>
internal static partial class ClientDisconnect
{
    public static McpMessageFilter Filter(IHttpContextAccessor accessor, ILogger logger) => next => async (context, cancellationToken) =>
    {
        // Only a request that came on a Streamable HTTP POST (it has a related transport: its response stream), while
        // that POST is still open; notifications and responses are not cancellable work.
        if (context.JsonRpcMessage is not JsonRpcRequest request
            || request.Context?.RelatedTransport is null
            || accessor.HttpContext?.RequestAborted is not { CanBeCanceled: true } aborted)
        {
            await next(context, cancellationToken);
            return;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, aborted);
        try
        {
            await next(context, linked.Token);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            LogClientGone(logger, request.Method, request.Id.ToString());
        }
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "Client went away during {Method} (request {RequestId}): the call was cancelled")]
    private static partial void LogClientGone(ILogger logger, string method, string requestId);
}
