using McpProxy.Observability;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace McpProxy.Caching;

/// <summary>Which layer backs the proxy's <c>HybridCache</c>: <c>redis</c> (the Aspire <c>cache</c> connection) or <c>memory</c>.</summary>
public sealed record CacheLayer(string Distributed, string? Endpoint);

/// <summary>
/// Caching: one <c>HybridCache</c> (in-memory L1, stampede protection) with Redis as its distributed layer when the
/// <c>cache</c> connection string exists (the Aspire topology injects <c>ConnectionStrings__cache</c>), in-memory
/// only otherwise (the standalone default: no Redis needed).
/// </summary>
internal static partial class CacheServices
{
    /// <summary>Name of the Aspire connection string (and resource) of the Redis cache.</summary>
    public const string ConnectionName = "cache";

    public static void AddProxyCaching(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ResponseCache>();
        builder.Services.AddSingleton<RequestCoalescer>();
        builder.Services.AddProxyInstruments<CacheMetrics>();
        var connectionString = builder.Configuration.GetConnectionString(ConnectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            builder.Services.AddSingleton(new CacheLayer("memory", null));
        }
        else
        {
            // Aspire's client integration: the multiplexer and tracing. The distributed cache reuses that multiplexer
            // rather than opening a second connection (Aspire.StackExchange.Redis.DistributedCaching is not used: one
            // less package, same result). A Redis outage degrades the cache, never the calls: the connection is opened
            // in the background (RedisConnection) and never aborts on a failed connect, commands fail at once while it
            // is down instead of queueing, every cache operation is bounded with a circuit around it
            // (ResilientDistributedCache), and Aspire's health check — Unhealthy, and waiting on Redis — is replaced by
            // one that reports Redis as Degraded without waiting (RedisCacheHealthCheck).
            builder.AddRedisClient(
                ConnectionName,
                settings => settings.DisableHealthChecks = true,
                options =>
                {
                    options.AbortOnConnectFail = false;
                    options.BacklogPolicy = BacklogPolicy.FailFast;
                });
            builder.Services.AddSingleton<RedisConnection>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<RedisConnection>());
            builder.Services.AddStackExchangeRedisCache(_ => { });
            builder.Services.AddOptions<RedisCacheOptions>().Configure<RedisConnection>((options, connection) =>
                options.ConnectionMultiplexerFactory = connection.GetAsync);
            var redisCache = builder.Services.Last(d => d.ServiceType == typeof(IDistributedCache));
            builder.Services.Remove(redisCache);
            builder.Services.AddSingleton(sp => new ResilientDistributedCache(
                Instantiate(sp, redisCache), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ResilientDistributedCache>>()));
            builder.Services.AddSingleton<IDistributedCache>(sp => sp.GetRequiredService<ResilientDistributedCache>());
            builder.Services.AddHealthChecks().AddCheck<RedisCacheHealthCheck>("redis", failureStatus: HealthStatus.Degraded);
            builder.Services.AddSingleton(new CacheLayer("redis", RedactedEndpoint(connectionString)));
        }

        builder.Services.AddHybridCache();
    }

    /// <summary>The service a descriptor registered (the cache that <c>AddStackExchangeRedisCache</c> added), built as DI would.</summary>
    private static IDistributedCache Instantiate(IServiceProvider services, ServiceDescriptor descriptor) => (IDistributedCache)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(services)
        ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));

    /// <summary>The first endpoint of a StackExchange.Redis configuration string, without password or options.</summary>
    private static string RedactedEndpoint(string connectionString)
    {
        try
        {
            var options = ConfigurationOptions.Parse(connectionString);
            return options.EndPoints.Count > 0 ? options.EndPoints[0].ToString() ?? "redis" : "redis";
        }
        catch (ArgumentException)
        {
            return "redis";
        }
    }
}
