using ModelContextProtocol.Protocol;

namespace McpProxy.Caching;

/// <summary>
/// The caching hints (<c>ttlMs</c>/<c>cacheScope</c>, MCP 2026-07-28 "Caching") on what the proxy itself answers:
/// aggregated lists and <c>server/discover</c>. A list is <c>private</c> when the caller's role filtered it (another
/// caller may see another list), else <c>public</c>; lists live <see cref="ListTtl"/> (a backend's list change is also
/// pushed on <c>subscriptions/listen</c> and <c>list_changed</c>), discover <see cref="DiscoverTtl"/> (the proxy's
/// capabilities, instructions and server info change only with a restart or a config reload). README "Protocol eras".
/// </summary>
internal static class CacheHints
{
    /// <summary>How long a client may keep an aggregated list (<c>tools/list</c>, <c>prompts/list</c>, <c>resources/list</c>, templates).</summary>
    public static readonly TimeSpan ListTtl = TimeSpan.FromSeconds(60);

    /// <summary>How long a client may keep the <c>server/discover</c> result.</summary>
    public static readonly TimeSpan DiscoverTtl = TimeSpan.FromMinutes(5);

    /// <summary>Puts the hints of an aggregated list on <paramref name="result"/>.</summary>
    public static T ForList<T>(T result, bool filtered)
        where T : ICacheableResult
    {
        result.TimeToLive = ListTtl;
        result.CacheScope = filtered ? CacheScope.Private : CacheScope.Public;
        return result;
    }

    /// <summary>
    /// Where a backend result may be cached and for how long, from its own hints: <see langword="null"/> scope when it
    /// gave none (the proxy's rule applies: per caller); a <c>ttlMs</c> bounds the configured TTL (0: not stored).
    /// </summary>
    public static (CacheScope? Scope, TimeSpan Ttl) Of(object result, TimeSpan configured) =>
        result is ICacheableResult cacheable && (cacheable.CacheScope is not null || cacheable.TimeToLive is not null)
            ? (cacheable.CacheScope ?? CacheScope.Private, cacheable.TimeToLive is { } ttl && ttl < configured ? (ttl < TimeSpan.Zero ? TimeSpan.Zero : ttl) : configured)
            : (null, configured);

    /// <summary>A retry of an <c>input_required</c> round (it carries <c>inputResponses</c> or <c>requestState</c>) is never cached.</summary>
    public static bool IsRetry(RequestParams request) => request.InputResponses is not null || request.RequestState is not null;
}
