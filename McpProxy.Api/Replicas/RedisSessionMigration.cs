using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;

namespace McpProxy.Replicas;

/// <summary>
/// The SDK's hook for legacy sessions it does not hold: a session initialized on any replica is recorded in Redis
/// (<see cref="SessionStore"/>), and a request with an <c>Mcp-Session-Id</c> this replica does not know continues it
/// here when the record exists, was not ended, and names the same caller — otherwise the SDK answers 404 "Session not
/// found" (another caller presenting the id learns nothing more than that).
/// </summary>
internal sealed class RedisSessionMigration(SessionStore store) : ISessionMigrationHandler
{
    public ValueTask OnSessionInitializedAsync(HttpContext context, string sessionId, InitializeRequestParams initializeParams, CancellationToken cancellationToken) =>
        store.SaveAsync(sessionId, initializeParams, context.User, cancellationToken);

    public ValueTask<InitializeRequestParams?> AllowSessionMigrationAsync(HttpContext context, string sessionId, CancellationToken cancellationToken) =>
        store.LoadAsync(sessionId, context.User, cancellationToken);
}
