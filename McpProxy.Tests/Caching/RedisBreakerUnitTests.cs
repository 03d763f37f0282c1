using McpProxy.Caching;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace McpProxy.Tests.Caching;

/// <summary>The circuit around the cache's distributed layer, on a manual clock (the Redis outage itself: <see cref="RedisOutageTests"/>).</summary>
public sealed class RedisBreakerUnitTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>A real in-memory distributed cache that can be switched off, counting the operations that reached it.</summary>
    private sealed class SwitchableCache : IDistributedCache
    {
        private readonly MemoryDistributedCache _inner = new(Options.Create(new MemoryDistributedCacheOptions()));

        public bool Down { get; set; }
        public int Operations { get; private set; }

        private T Run<T>(Func<T> operation)
        {
            Operations++;
            return Down ? throw new InvalidOperationException("connection refused") : operation();
        }

        public byte[]? Get(string key) => Run(() => _inner.Get(key));
        public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => Run(() => _inner.GetAsync(key, token));
        public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => Run(() => { _inner.Set(key, value, options); return 0; });
        public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) => Run(() => _inner.SetAsync(key, value, options, token));
        public void Refresh(string key) => Run(() => { _inner.Refresh(key); return 0; });
        public Task RefreshAsync(string key, CancellationToken token = default) => Run(() => _inner.RefreshAsync(key, token));
        public void Remove(string key) => Run(() => { _inner.Remove(key); return 0; });
        public Task RemoveAsync(string key, CancellationToken token = default) => Run(() => _inner.RemoveAsync(key, token));
    }

    [Fact]
    public async Task A_failure_is_a_miss_opens_the_circuit_for_the_break_then_one_trial_closes_it()
    {
        var clock = new ManualClock();
        var redis = new SwitchableCache();
        var cache = new ResilientDistributedCache(redis, clock, NullLogger<ResilientDistributedCache>.Instance);
        var entry = new DistributedCacheEntryOptions();

        await cache.SetAsync("a", [1], entry);
        Assert.Equal([1], await cache.GetAsync("a"));

        // Down: the failing operation is a miss (no exception), and the circuit opens.
        redis.Down = true;
        Assert.Null(await cache.GetAsync("a"));
        await cache.SetAsync("b", [2], entry); // dropped, never thrown
        await cache.RemoveAsync("a");
        Assert.True(cache.IsOpen);
        Assert.Equal("connection refused", cache.LastError);

        // While open, Redis is not even tried.
        var tried = redis.Operations;
        clock.Now += ResilientDistributedCache.BreakDuration - TimeSpan.FromSeconds(1);
        Assert.Null(await cache.GetAsync("a"));
        Assert.Equal(tried, redis.Operations);

        // After the break one trial goes through; still down, it re-opens for another break.
        clock.Now += TimeSpan.FromSeconds(1);
        Assert.Null(await cache.GetAsync("a"));
        Assert.Equal(tried + 1, redis.Operations);
        Assert.Null(await cache.GetAsync("a"));
        Assert.Equal(tried + 1, redis.Operations);

        // Back up: the next trial closes the circuit and Redis is used again.
        redis.Down = false;
        clock.Now += ResilientDistributedCache.BreakDuration;
        Assert.Equal([1], await cache.GetAsync("a"));
        Assert.False(cache.IsOpen);
        Assert.Null(cache.LastError);
        await cache.SetAsync("b", [2], entry);
        Assert.Equal([2], await cache.GetAsync("b"));
    }
}
