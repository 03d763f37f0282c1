using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Calls;
using Microsoft.Extensions.Caching.Hybrid;
using ModelContextProtocol;

namespace McpProxy.Caching;

/// <summary>Hit/miss/entry counts of one backend's cache.</summary>
internal sealed class CacheCounters
{
    public long Hits;
    public long Misses;
    public long Entries;
}

/// <summary>
/// Caches successful <c>resources/read</c> and <c>tools/call</c> results in the proxy's <c>HybridCache</c> (in-memory,
/// plus Redis when the topology provides it). The key is the backend, the kind, the original name or URI, the
/// canonical arguments (object keys sorted, so key order is irrelevant) and the caller's identity, so one user's
/// result is never served to another. Errors and <c>isError</c> results are never stored. At most
/// <c>max_entries</c> entries per backend: the oldest are evicted first.
/// </summary>
internal sealed partial class ResponseCache(HybridCache cache, TimeProvider time, ILogger<ResponseCache> logger)
{
    /// <summary>Tag carried by every entry, for <see cref="ClearAsync"/>.</summary>
    public const string AllTag = "mcp-proxy";

    private readonly ConcurrentDictionary<string, CacheCounters> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentQueue<(string Key, DateTimeOffset Expires)>> _keys = new(StringComparer.Ordinal);
    // Backends that have answered with cacheScope "public" (on this replica): only their calls look for a shared entry
    // first, so a backend without hints costs no second lookup (a Redis round trip) per call.
    private readonly ConcurrentDictionary<string, byte> _sharesPublic = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, CacheCounters> Counters => _counters;

    public long Hits => _counters.Values.Sum(c => Interlocked.Read(ref c.Hits));
    public long Misses => _counters.Values.Sum(c => Interlocked.Read(ref c.Misses));

    /// <summary>The key of a call: stable for equal arguments whatever their key order; secrets never appear in it (hashed).</summary>
    public static string Key(string backend, string kind, string item, JsonNode? arguments, string identity)
    {
        // Lengths first: no caller and item pair can spell another pair's text ("a" + "b\nc" vs "a\nb" + "c").
        var canonical = new StringBuilder();
        Canonicalize(arguments, canonical);
        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{identity.Length}:{identity}\n{item.Length}:{item}\n{canonical}")));
        return $"mcp-proxy:{backend}:{kind}:{digest}";
    }

    /// <summary>
    /// Returns the cached result for <paramref name="key"/>, or makes the call and stores the result when
    /// <paramref name="storable"/> says so. Concurrent misses on one key share one call (HybridCache stampede protection).
    /// A result with caching hints (<see cref="CacheHints.Of"/>) is stored as they say: <c>public</c> under
    /// <paramref name="sharedKey"/> (looked up first), <c>private</c> under <paramref name="key"/>, for at most its <c>ttlMs</c>.
    /// </summary>
    public async ValueTask<T> GetOrCallAsync<T>(
        string backend, string key, string? sharedKey, TimeSpan ttl, int maxEntries, Func<CancellationToken, ValueTask<T>> call, Func<T, bool> storable, CancellationToken cancellationToken)
        where T : class
    {
        var counters = _counters.GetOrAdd(backend, _ => new CacheCounters());
        if (sharedKey is not null && _sharesPublic.ContainsKey(backend) && await TryGetAsync(sharedKey, cancellationToken) is { } shared)
        {
            Interlocked.Increment(ref counters.Hits);
            return Read<T>(shared);
        }

        var missed = false;
        // HybridCache may run the factory on a flow of its own, without Activity.Current: the backend call of a miss
        // would start a new root trace. The caller's span is restored around it so the miss stays one trace.
        var parent = Activity.Current;
        string json;
        try
        {
            json = await cache.GetOrCreateAsync(
                key,
                async ct =>
                {
                    missed = true;
                    var previous = Activity.Current;
                    Activity.Current = parent;
                    T result;
                    try
                    {
                        result = await call(ct);
                    }
                    finally
                    {
                        Activity.Current = previous;
                    }

                    if (!storable(result))
                    {
                        throw new NotStorableException(result);
                    }

                    // The backend's own hints decide where and how long: stored below, outside this entry's fixed options.
                    if (CacheHints.Of(result, ttl) is ({ } scope, var hinted))
                    {
                        throw new NotStorableException(result, hinted, scope == ModelContextProtocol.Protocol.CacheScope.Public && sharedKey is not null ? sharedKey : key);
                    }

                    return Write(result);
                },
                new HybridCacheEntryOptions { Expiration = ttl, LocalCacheExpiration = ttl },
                [AllTag, "backend:" + backend],
                cancellationToken);
        }
        catch (NotStorableException notStorable)
        {
            Interlocked.Increment(ref counters.Misses);
            if (notStorable.StoreUnder is { } target && notStorable.Ttl > TimeSpan.Zero)
            {
                if (target == sharedKey)
                {
                    _sharesPublic.TryAdd(backend, 0);
                }

                await cache.SetAsync(
                    target,
                    Write((T)notStorable.Result),
                    new HybridCacheEntryOptions { Expiration = notStorable.Ttl, LocalCacheExpiration = notStorable.Ttl },
                    [AllTag, "backend:" + backend],
                    cancellationToken);
                await TrackAsync(backend, target, notStorable.Ttl, maxEntries, counters);
            }

            return (T)notStorable.Result;
        }
        catch (Exception) when (missed)
        {
            Interlocked.Increment(ref counters.Misses); // the call failed: a miss, and nothing stored
            throw;
        }

        if (missed)
        {
            Interlocked.Increment(ref counters.Misses);
            await TrackAsync(backend, key, ttl, maxEntries, counters);
        }
        else
        {
            Interlocked.Increment(ref counters.Hits);
        }

        return Read<T>(json);
    }

    /// <summary>A result as the cache stores it: its JSON (a fast-path result already is; the same JSON either way).</summary>
    private static string Write<T>(T result) =>
        result is RawResult raw ? Encoding.UTF8.GetString(raw.Json.Span) : JsonSerializer.Serialize(result, McpJsonUtilities.DefaultOptions);

    private static T Read<T>(string json) =>
        typeof(T) == typeof(RawResult) ? (T)(object)RawResult.FromCached(json) : JsonSerializer.Deserialize<T>(json, McpJsonUtilities.DefaultOptions)!;

    /// <summary>Drops every cached entry (all backends, both layers).</summary>
    public async ValueTask ClearAsync(CancellationToken cancellationToken)
    {
        await cache.RemoveByTagAsync(AllTag, cancellationToken);
        foreach (var (backend, keys) in _keys)
        {
            keys.Clear();
            if (_counters.TryGetValue(backend, out var counters))
            {
                Interlocked.Exchange(ref counters.Entries, 0);
            }
        }
    }

    private async ValueTask TrackAsync(string backend, string key, TimeSpan ttl, int maxEntries, CacheCounters counters)
    {
        var now = time.GetUtcNow();
        var keys = _keys.GetOrAdd(backend, _ => new ConcurrentQueue<(string, DateTimeOffset)>());
        keys.Enqueue((key, now + ttl));
        Interlocked.Increment(ref counters.Entries);

        // Expired entries leave the count; beyond max_entries the oldest are evicted.
        while (keys.TryPeek(out var head) && (head.Expires <= now || Interlocked.Read(ref counters.Entries) > maxEntries) && keys.TryDequeue(out head))
        {
            Interlocked.Decrement(ref counters.Entries);
            if (head.Expires > now)
            {
                try
                {
                    await cache.RemoveAsync(head.Key);
                }
                catch (Exception ex)
                {
                    // An eviction that fails (the cache layer is down) never turns the good result being returned into an error.
                    LogEvictionFailed(logger, backend, ex.Message);
                }
            }
        }
    }

    private static void Canonicalize(JsonNode? node, StringBuilder output)
    {
        switch (node)
        {
            case JsonObject obj:
                output.Append('{');
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    output.Append(JsonSerializer.Serialize(name)).Append(':');
                    Canonicalize(value, output);
                    output.Append(',');
                }

                output.Append('}');
                break;
            case JsonArray array:
                output.Append('[');
                foreach (var item in array)
                {
                    Canonicalize(item, output);
                    output.Append(',');
                }

                output.Append(']');
                break;
            case null:
                output.Append("null");
                break;
            default:
                output.Append(node.ToJsonString());
                break;
        }
    }

    /// <summary>
    /// Reads an entry without creating one (HybridCache has no TryGet: a factory that writes nowhere stands in).
    /// </summary>
    private async ValueTask<string?> TryGetAsync(string key, CancellationToken cancellationToken)
    {
        var json = await cache.GetOrCreateAsync(
            key,
            static _ => ValueTask.FromResult(""),
            new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite },
            null,
            cancellationToken);
        return json.Length == 0 ? null : json;
    }

    /// <summary>
    /// A result the entry being created does not hold: not storable at all, or (<see cref="StoreUnder"/>) stored under
    /// the key and for the time its own caching hints say.
    /// </summary>
    private sealed class NotStorableException(object result, TimeSpan ttl = default, string? storeUnder = null) : Exception("The result is not cacheable.")
    {
        public object Result { get; } = result;
        public TimeSpan Ttl { get; } = ttl;
        public string? StoreUnder { get; } = storeUnder;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Cache eviction for backend '{Backend}' failed: {Error}")]
    private static partial void LogEvictionFailed(ILogger logger, string backend, string error);
}
