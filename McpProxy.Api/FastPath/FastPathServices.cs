namespace McpProxy.FastPath;

/// <summary>The fast path (README "Fast path"): its front, placed after authentication and authorization, before the MCP endpoint.</summary>
internal static class FastPathServices
{
    public static IServiceCollection AddProxyFastPath(this IServiceCollection services) => services.AddSingleton<FastPathFront>();

    /// <summary>
    /// Once the MCP endpoint's policy has admitted the caller (after <c>UseAuthorization</c>, or before it when the endpoint
    /// has no policy: no <c>[auth]</c>), before the fast path reads a byte.
    /// Always in place (a hot reload may add a backend); a request it does not take costs a few header reads.
    /// </summary>
    public static IApplicationBuilder UseProxyFastPath(this IApplicationBuilder app)
    {
        // Resolved with the first request, not while the app is built: the pipeline's cache must not touch Redis before
        // its connection is set up (as the SDK's handlers resolve it).
        FastPathFront? front = null;
        return app.Use((http, next) => (front ??= http.RequestServices.GetRequiredService<FastPathFront>()).InvokeAsync(http, next));
    }
}
