using McpProxy.Calls;

namespace McpProxy.Caching;

/// <summary>A call's key for the cache and the coalescer: backend, method, item, canonical arguments and caller (<see cref="ResponseCache.Key"/>), computed once per call.</summary>
internal static class CacheKeys
{
    public static string Of(CallContext call) =>
        call.CacheKey ??= ResponseCache.Key(call.BackendName, call.Method, call.OriginalItem, CallArguments.ToNode(call.Arguments), call.Caller);
}
