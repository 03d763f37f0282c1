using McpProxy.Calls;
using ModelContextProtocol.Protocol;

namespace McpProxy.Caching;

/// <summary>
/// The response cache (<see cref="ResponseCache"/>): a call with a cache TTL (decided by the routing rules) is answered
/// from the cache when it can be; a successful result is stored, per caller — or, when the backend's result carries
/// caching hints (MCP 2026-07-28: <c>resources/read</c>), as they say: <c>cacheScope: "public"</c> in one entry shared
/// by every caller, <c>"private"</c> per caller, for at most <c>ttlMs</c> (0: not stored). A retry of an
/// <c>input_required</c> round (<c>inputResponses</c>/<c>requestState</c>) is never answered from nor stored in the cache.
/// </summary>
internal sealed class CacheFilter(ResponseCache cache) : ICallFilter
{
    public ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken)
    {
        if (call.CacheTtl is not { } ttl)
        {
            return next(call, cancellationToken);
        }

        var key = CacheKeys.Of(call);
        // The cache stores JSON: it needs the result's own type to read it back.
        return call.Method switch
        {
            _ when call.Raw is not null => CacheAsync<RawResult>(call, next, key, ttl, cancellationToken),
            RequestMethods.ToolsCall => CacheAsync<CallToolResult>(call, next, key, ttl, cancellationToken),
            RequestMethods.ResourcesRead => CacheAsync<ReadResourceResult>(call, next, key, ttl, cancellationToken),
            RequestMethods.PromptsGet => CacheAsync<GetPromptResult>(call, next, key, ttl, cancellationToken),
            _ => throw new InvalidOperationException($"{call.Method} results are not cached."),
        };
    }

    private async ValueTask<object> CacheAsync<T>(CallContext call, CallDelegate next, string key, TimeSpan ttl, CancellationToken cancellationToken)
        where T : class =>
        await cache.GetOrCallAsync(
            call.BackendName, key, CacheKeys.Shared(call), ttl, call.BackendConfig.Cache!.MaxEntries, async c => As<T>(await next(call, c)), static r => CallContext.Storable(r), cancellationToken);

    /// <summary>A fast-path call answered on the typed path (its backend changed era under it) is cached as the same JSON.</summary>
    private static T As<T>(object result) =>
        result is T typed ? typed : typeof(T) == typeof(RawResult) ? (T)(object)RawResult.FromTyped(result) : (T)result;
}
