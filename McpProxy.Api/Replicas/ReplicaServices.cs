using McpProxy.Caching;
using McpProxy.Configuration;
using McpProxy.Resilience;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Server;

namespace McpProxy.Replicas;

/// <summary>
/// Replicas without affinity: every response names its replica (<see cref="ReplicaInstance.Header"/>); with the cache's
/// Redis (<c>ConnectionStrings:cache</c>, no further setting) legacy sessions continue on any replica
/// (<see cref="RedisSessionMigration"/>, tombstones by <see cref="SharedSessionMiddleware"/>), their SSE streams resume
/// with <c>Last-Event-ID</c> on any replica (the SDK's distributed event store over the proxy's <c>IDistributedCache</c>),
/// and <c>rate_limit</c> with <c>scope = "global"</c> counts across replicas (<see cref="FleetRateLimits"/>).
/// Modern (2026-07-28) requests carry no session: any replica serves them as they come.
/// </summary>
internal static partial class ReplicaServices
{
    public static void AddProxyReplicas(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var shared = !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(CacheServices.ConnectionName));
        services.AddSingleton(new ReplicaInstance(shared));
        services.AddHostedService<ReplicaStartup>();
        if (!shared)
        {
            return;
        }

        services.AddSingleton<SessionStore>();
        // The SDK takes both from DI when its options leave them unset (HttpServerTransportOptionsSetup).
        services.AddSingleton<ISessionMigrationHandler, RedisSessionMigration>();
#pragma warning disable MCP9006 // "legacy stateful HTTP" API: exactly what keeps legacy sessions resumable across replicas
        services.AddOptions<DistributedCacheEventStreamStoreOptions>()
            .Configure<Microsoft.Extensions.Caching.Distributed.IDistributedCache>((options, cache) => options.Cache = cache);
        services.AddSingleton<ISseEventStreamStore, DistributedCacheEventStreamStore>();
#pragma warning restore MCP9006
        services.AddSingleton<IFleetRateLimits, FleetRateLimits>();
    }

    /// <summary>The instance header on every response (first, so refusals carry it too).</summary>
    public static WebApplication UseProxyReplicaHeader(this WebApplication app)
    {
        var instance = app.Services.GetRequiredService<ReplicaInstance>();
        app.Use((http, next) =>
        {
            http.Response.Headers[ReplicaInstance.Header] = instance.Id;
            return next(http);
        });
        return app;
    }

    /// <summary>Tombstones and expiry of shared legacy sessions (after authentication: a DELETE is judged by its caller).</summary>
    public static WebApplication UseProxyReplicas(this WebApplication app)
    {
        if (app.Services.GetRequiredService<ReplicaInstance>().Shared)
        {
            app.UseMiddleware<SharedSessionMiddleware>();
        }

        return app;
    }

    /// <summary>Subscribes to the tombstone channel and says at startup what the replica shares.</summary>
    private sealed partial class ReplicaStartup(ReplicaInstance instance, ProxyConfig config, IServiceProvider services, ILogger<ReplicaStartup> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            LogInstance(instance.Id, instance.Shared ? "shared through Redis (legacy sessions migrate, SSE streams resume anywhere)" : "standalone (no Redis: sessions stay on this replica)");
            if (!instance.Shared)
            {
                foreach (var backend in config.Backends.Where(b => b.RateLimit?.Scope == RateLimitScope.Global))
                {
                    LogGlobalWithoutRedis(backend.Name);
                }

                return Task.CompletedTask;
            }

            var store = services.GetRequiredService<SessionStore>();
            _ = Task.Run(() => store.SubscribeAsync(LogSubscribeFailed), CancellationToken.None); // tombstones are still read from Redis on each request
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Instance}: {Mode}")]
        private partial void LogInstance(string instance, string mode);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}': rate_limit scope = \"global\" needs the cache's Redis (ConnectionStrings:cache); without it this replica's limit applies")]
        private partial void LogGlobalWithoutRedis(string backend);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not subscribe to the session tombstone channel yet; it subscribes once Redis is reachable, until then tombstones are read from Redis per request")]
        private partial void LogSubscribeFailed(Exception exception);
    }
}
