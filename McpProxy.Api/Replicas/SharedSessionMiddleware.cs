using McpProxy.Configuration;

namespace McpProxy.Replicas;

/// <summary>
/// Before the MCP endpoint, for requests that carry an <c>Mcp-Session-Id</c> (legacy sessions only; modern requests
/// have none): a session ended on any replica is answered 404 "Session not found" here, whatever copy this replica
/// still holds, and a live one has its shared expiry pushed forward. A DELETE by the session's own caller leaves a
/// tombstone every replica honours (the SDK alone would end only the copy of the replica the DELETE reached).
/// </summary>
internal sealed class SharedSessionMiddleware(RequestDelegate next, SessionStore store, ProxyConfig config)
{
    private const string SessionHeader = "Mcp-Session-Id";

    public async Task InvokeAsync(HttpContext http)
    {
        if (!http.Request.Headers.TryGetValue(SessionHeader, out var values) || values.ToString() is not { Length: > 0 } sessionId
            || !http.Request.Path.StartsWithSegments(config.Proxy.Listen.Path, StringComparison.OrdinalIgnoreCase))
        {
            await next(http);
            return;
        }

        if (await store.IsEndedAsync(sessionId, http.RequestAborted))
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            await http.Response.WriteAsJsonAsync(new { jsonrpc = "2.0", id = (string?)null, error = new { code = -32001, message = "Session not found" } });
            return;
        }

        var ending = HttpMethods.IsDelete(http.Request.Method) && await store.BelongsToAsync(sessionId, http.User, http.RequestAborted);
        await next(http);
        if (ending && http.Response.StatusCode < 500)
        {
            await store.EndAsync(sessionId, CancellationToken.None);
        }
    }
}
