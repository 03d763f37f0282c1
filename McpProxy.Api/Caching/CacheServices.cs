using Microsoft.Extensions.Caching.StackExchangeRedis;
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
        var connectionString = builder.Configuration.GetConnectionString(ConnectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            builder.Services.AddSingleton(new CacheLayer("memory", null));
        }
        else
        {
            // Aspire's client integration: the multiplexer, its health check ("StackExchange.Redis") and tracing.
            // The distributed cache reuses that multiplexer rather than opening a second connection
            // (Aspire.StackExchange.Redis.DistributedCaching is not used: one less package, same result).
            builder.AddRedisClient(ConnectionName);
            builder.Services.AddStackExchangeRedisCache(_ => { });
            builder.Services.AddOptions<RedisCacheOptions>().Configure<IServiceProvider>((options, services) =>
                options.ConnectionMultiplexerFactory = () => Task.FromResult(services.GetRequiredService<IConnectionMultiplexer>()));
            builder.Services.AddSingleton(new CacheLayer("redis", RedactedEndpoint(connectionString)));
        }

        builder.Services.AddHybridCache();
    }

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
