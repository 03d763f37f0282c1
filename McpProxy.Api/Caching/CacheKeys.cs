using McpProxy.Calls;

namespace McpProxy.Caching;

/// <summary>A call's key for the cache and the coalescer: backend, method, item, canonical arguments and caller (<see cref="ResponseCache.Key"/>), computed once per call.</summary>
internal static class CacheKeys
{
    public static string Of(CallContext call) =>
        call.CacheKey ??= ResponseCache.Key(call.BackendName, call.Method, call.OriginalItem, CallArguments.ToNode(call.Arguments), call.Caller);

    /// <summary>
    /// The key of the call's shared entry, for results the backend marked <c>cacheScope: "public"</c>: the same key
    /// without the caller (an identity no caller has). The caller's access was decided before the cache is asked.
    /// </summary>
    public static string Shared(CallContext call) =>
        ResponseCache.Key(call.BackendName, call.Method, call.OriginalItem, CallArguments.ToNode(call.Arguments), SharedIdentity);

    private const string SharedIdentity = "\0public";
}
