using System.Threading.RateLimiting;
using McpProxy.Caching;
using McpProxy.Configuration;
using McpProxy.Resilience;
using RedisRateLimiting;
using StackExchange.Redis;

namespace McpProxy.Replicas;

/// <summary>
/// <c>[backends.rate_limit] scope = "global"</c>: one fixed window per backend counted in Redis (RedisRateLimiting, a
/// Lua-atomic counter per window), so N replicas together admit <c>requests</c> per period. While Redis is unreachable
/// (still connecting, down, too slow) the replica's own limiter counts instead: calls are never refused because of Redis.
/// </summary>
internal sealed partial class FleetRateLimits(RedisConnection connection, ILoggerFactory loggers) : IFleetRateLimits
{
    public RateLimiter Create(string backend, RateLimitConfig config, RateLimiter local) =>
        new FleetRateLimiter(backend, config, local, connection, loggers.CreateLogger<FleetRateLimits>());

    private sealed partial class FleetRateLimiter(string backend, RateLimitConfig config, RateLimiter local, RedisConnection connection, ILogger logger) : RateLimiter
    {
        private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(1);
        private RedisFixedWindowRateLimiter<string>? _redis;
        private int _fallingBack;

        public override TimeSpan? IdleDuration => null;

        public override RateLimiterStatistics? GetStatistics() => local.GetStatistics();

        protected override RateLimitLease AttemptAcquireCore(int permitCount) => local.AttemptAcquire(permitCount);

        protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
        {
            if (Redis() is { } redis)
            {
                try
                {
                    var lease = await redis.AcquireAsync(permitCount, cancellationToken).AsTask().WaitAsync(OperationTimeout, cancellationToken);
                    if (Interlocked.Exchange(ref _fallingBack, 0) == 1)
                    {
                        LogRestored(logger, backend);
                    }

                    return lease;
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
                {
                    if (Interlocked.Exchange(ref _fallingBack, 1) == 0)
                    {
                        LogFallback(logger, ex, backend);
                    }
                }
            }

            return await local.AcquireAsync(permitCount, cancellationToken);
        }

        /// <summary>The Redis limiter once the connection is up; null (count locally) until then.</summary>
        private RedisFixedWindowRateLimiter<string>? Redis()
        {
            if (_redis is { } existing)
            {
                return existing;
            }

            var task = connection.GetAsync();
            if (!task.IsCompletedSuccessfully || !task.Result.IsConnected)
            {
                return null;
            }

            var multiplexer = task.Result;
            var created = new RedisFixedWindowRateLimiter<string>(ReplicaKeys.RateLimit(backend), new RedisFixedWindowRateLimiterOptions
            {
                ConnectionMultiplexerFactory = () => multiplexer,
                PermitLimit = config.Requests,
                Window = TimeSpan.FromSeconds(config.PeriodSeconds),
            });
            if (Interlocked.CompareExchange(ref _redis, created, null) is { } raced)
            {
                created.Dispose();
                return raced;
            }

            return created;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _redis?.Dispose();
            }

            base.Dispose(disposing);
        }

        [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}': the global rate limit cannot reach Redis; this replica counts on its own until it can")]
        private static partial void LogFallback(ILogger logger, Exception exception, string backend);

        [LoggerMessage(Level = LogLevel.Information, Message = "Backend '{Backend}': the global rate limit counts in Redis again")]
        private static partial void LogRestored(ILogger logger, string backend);
    }
}
