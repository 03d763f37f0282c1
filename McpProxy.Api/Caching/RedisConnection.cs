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
