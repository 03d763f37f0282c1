using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace McpProxy.Caching;

/// <summary>
/// The Redis connection of the cache, opened in the background at startup: Aspire's client integration connects
/// synchronously (up to the connect timeout) on first use, which must never be a client's call or the health probe.
/// With <c>AbortOnConnectFail = false</c> a Redis that is down at startup is connected later by StackExchange.Redis itself.
/// </summary>
internal sealed class RedisConnection(IServiceProvider services) : IHostedService
{
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection =
        new(() => Task.Run(services.GetRequiredService<IConnectionMultiplexer>), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>For <c>RedisCacheOptions.ConnectionMultiplexerFactory</c>.</summary>
    public Task<IConnectionMultiplexer> GetAsync() => _connection.Value;

    /// <summary>True or false once the multiplexer exists, null while it is still being created.</summary>
    public bool? IsConnected => _connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully ? _connection.Value.Result.IsConnected : null;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = _connection.Value;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Subscribes <paramref name="handler"/> to <paramref name="channel"/>, once: StackExchange.Redis registers the
    /// handler before it sends <c>SUBSCRIBE</c>, keeps it when that fails because Redis cannot be reached yet (it fails
    /// at once: <c>BacklogPolicy.FailFast</c>), and subscribes it when Redis becomes reachable and after every reconnect.
    /// So a failure is reported (<paramref name="notYet"/>), not retried — a second call would register the handler
    /// twice — and <see cref="RedisSubscription.IsLive"/> tells whether Redis is delivering to it now.
    /// </summary>
    public async Task<RedisSubscription> SubscribeAsync(RedisChannel channel, Action<RedisChannel, RedisValue> handler, Action<Exception> notYet)
    {
        var subscriber = (await GetAsync().ConfigureAwait(false)).GetSubscriber();
        try
        {
            await subscriber.SubscribeAsync(channel, handler).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            notYet(ex);
        }

        return new RedisSubscription(subscriber, channel);
    }
}

/// <summary>A channel subscription made by <see cref="RedisConnection.SubscribeAsync"/>.</summary>
internal sealed class RedisSubscription(ISubscriber subscriber, RedisChannel channel)
{
    /// <summary>Whether a Redis server holds the subscription now (false while Redis cannot be reached).</summary>
    public bool IsLive => subscriber.SubscribedEndpoint(channel) is not null;
}

/// <summary>
/// <c>/health</c> entry <c>redis</c>: Healthy when the cache's Redis is connected and in use, Degraded otherwise — the
/// proxy serves every call without Redis, so its readiness never depends on it. Reads state only: never waits on Redis.
/// </summary>
internal sealed class RedisCacheHealthCheck(RedisConnection connection, ResilientDistributedCache cache) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (cache.IsOpen)
        {
            return HealthCheckResult.Degraded($"redis unavailable since {cache.FailingSince:O} ({cache.LastError}): caching in memory only");
        }

        // Right after startup the connection may still be opening: give it a moment, never more.
        try
        {
            await connection.GetAsync().WaitAsync(ResilientDistributedCache.OperationTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
        }

        return connection.IsConnected switch
        {
            true => HealthCheckResult.Healthy("redis connected"),
            false => HealthCheckResult.Degraded("redis disconnected: caching in memory only until it reconnects"),
            null => HealthCheckResult.Degraded("connecting to redis: caching in memory only until then"),
        };
    }
}
