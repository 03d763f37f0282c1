using McpProxy.Configuration;
using ModelContextProtocol.Server;

namespace McpProxy.Sessions;

/// <summary>
/// Before the MCP endpoint: a POST without <c>Mcp-Session-Id</c> (the initialize that opens a session — any other such
/// POST is refused by the SDK and frees its slot at once), or with <c>legacy_sse</c> a GET of <c>{path}/sse</c> (which
/// holds a legacy session open as long as it lasts), takes a <see cref="SessionLimiter"/> slot, or is answered
/// 429 with a JSON-RPC error naming the cap and its config key. Runs after authentication, so the caller is known.
/// Modern (2026-07-28) requests open no session and are never counted.
/// </summary>
internal sealed class SessionLimitMiddleware(RequestDelegate next, SessionLimiter limiter, ProxyConfig config)
{
    private static readonly object SlotKey = new();

    public Task InvokeAsync(HttpContext http) => OpensSession(http) ? WithSlotAsync(http) : next(http);

    private async Task WithSlotAsync(HttpContext http)
    {
        using var slot = limiter.TryReserve(SessionLimiter.CallerOf(http), out var refusal);
        if (slot is null)
        {
            await Security.RequestGuard.WriteAsync(http, StatusCodes.Status429TooManyRequests, refusal ?? "Too many sessions.");
            return;
        }

        http.Items[SlotKey] = slot;
        await next(http);
    }

    private bool OpensSession(HttpContext http)
    {
        if (!http.Request.Path.StartsWithSegments(config.Proxy.Listen.Path, StringComparison.OrdinalIgnoreCase, out var rest))
        {
            return false;
        }

        if (HttpMethods.IsPost(http.Request.Method))
        {
            // A modern (2026-07-28) POST opens no session: it is served statelessly, and never counted.
            if (Eras.ModernEra.IsModern(http))
            {
                return false;
            }

            return (!rest.HasValue || rest == "/") && !http.Request.Headers.ContainsKey("Mcp-Session-Id");
        }

        return config.Proxy.Listen.LegacySse && HttpMethods.IsGet(http.Request.Method) && rest.Equals(Transport.LegacySse.SsePath, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The session-run hook (<c>RunSessionHandler</c>): the session opened by this request takes its slot over and
    /// gives it back when it ends. Must be called before the session's first await (the SDK calls it synchronously).
    /// </summary>
    public static async Task RunSessionAsync(HttpContext http, McpServer session, Func<McpServer, CancellationToken, Task> run, CancellationToken cancellationToken)
    {
        // The SDK runs this hook once per modern request too, with a server of that request alone (no session id):
        // it takes no slot and is no session.
        if (Eras.ModernEra.IsModern(session))
        {
            await session.RunAsync(cancellationToken);
            return;
        }

        using var owned = (http.Items[SlotKey] as SessionLimiter.SessionSlot)?.Claim();
        await run(session, cancellationToken);
    }
}
