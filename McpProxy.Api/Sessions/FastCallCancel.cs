using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Sessions;

/// <summary>
/// A legacy client cancels a request with <c>notifications/cancelled</c> on its session. A call the fast path answers is
/// not the SDK's request, so the SDK finds nothing to cancel: this incoming message filter cancels the session's
/// fast-path call with that id (<see cref="ClientSession.CancelFastCall"/>), and passes the notification on.
/// </summary>
internal static class FastCallCancel
{
    public static McpMessageFilter Filter(SessionHub sessions) => next => (context, cancellationToken) =>
    {
        if (context.JsonRpcMessage is JsonRpcNotification { Method: NotificationMethods.CancelledNotification } notification
            && context.Server.SessionId is { } id && sessions.Live(id) is { } session
            && notification.Params?["requestId"] is { } requestId)
        {
            RequestId? request = null;
            try
            {
                request = JsonSerializer.Deserialize(requestId, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(RequestId))) as RequestId?;
            }
            catch (JsonException)
            {
                // not an id: the SDK ignores it too
            }

            if (request is { Id: not null } cancelled)
            {
                session.CancelFastCall(cancelled);
            }
        }

        return next(context, cancellationToken);
    };
}
