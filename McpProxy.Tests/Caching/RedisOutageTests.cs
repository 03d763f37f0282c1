using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using ModelContextProtocol.Client;
using StackExchange.Redis;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Caching;

/// <summary>
/// A Redis outage degrades the cache, never the calls: with a real <c>redis-server</c> killed mid-test (or never
/// there), calls are answered by the backend at normal latency, <c>/health</c> stays 200 with Redis reported degraded,
/// and the cache writes to Redis again by itself once Redis is back.
/// </summary>
public sealed class RedisOutageTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    /// <summary>Far above a proxied echo (milliseconds), far below StackExchange.Redis's 5 s operation timeout.</summary>
    private static readonly TimeSpan NormalLatency = TimeSpan.FromSeconds(2);

    private const string CacheConfig = """
        [backends.cache]
        tool_ttl_seconds = 60
        """;

    [Fact]
    public async Task Calls_keep_their_latency_while_redis_is_down_health_stays_200_and_the_cache_returns_with_redis()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("ro", CacheConfig), configure: UseRedis(redis.ConnectionString));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };

        Assert.Equal("before", Text(await client.CallToolAsync("ro/echo", Message("before"), cancellationToken: Ct)));
        await WaitUntil(async () => await RedisKeysAsync(redis) == 1);

        await redis.StopAsync();

        // Every call is answered by the backend (misses) or the in-memory layer (hits), at normal latency.
        for (var i = 0; i < 8; i++)
        {
            await AssertFastAsync(client, $"during-{i}");
            await AssertFastAsync(client, $"during-{i}"); // the same again: served from memory
        }

        Assert.Equal("before", Text(await client.CallToolAsync("ro/echo", Message("before"), cancellationToken: Ct)));
        Assert.Equal(9, backend.ToolCalls);

        var health = await HealthAsync(http);
        Assert.Equal("Degraded", (string?)health["checks"]!["redis"]!["status"]);

        // Redis is back (empty): new entries reach it again without any restart of the proxy.
        await redis.RestartAsync();
        var n = 0;
        await WaitUntil(async () =>
        {
            await AssertFastAsync(client, $"after-{n++}");
            return await RedisKeysAsync(redis) > 0;
        });
        await WaitUntil(async () => (string?)(await HealthAsync(http))["checks"]!["redis"]!["status"] == "Healthy");
    }

    [Fact]
    public async Task Starting_with_redis_unreachable_does_not_stall_the_first_calls_and_health_is_200()
    {
        var closedPort = RedisServer.FreePort();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("rd", CacheConfig), configure: UseRedis($"127.0.0.1:{closedPort}"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };

        for (var i = 0; i < 4; i++)
        {
            await AssertFastAsync(client, $"first-{i}");
        }

        var health = await HealthAsync(http);
        Assert.Equal("Degraded", (string?)health["checks"]!["redis"]!["status"]);
    }

    private static Action<WebApplicationBuilder> UseRedis(string connectionString) =>
        builder => builder.Configuration["ConnectionStrings:cache"] = connectionString;

    private static async Task AssertFastAsync(McpClient client, string message)
    {
        var stopwatch = Stopwatch.StartNew();
        Assert.Equal(message, Text(await client.CallToolAsync(message.StartsWith("first", StringComparison.Ordinal) ? "rd/echo" : "ro/echo", Message(message), cancellationToken: Ct)));
        Assert.True(stopwatch.Elapsed < NormalLatency, $"'{message}' took {stopwatch.Elapsed}");
    }

    /// <summary><c>/health</c>: always 200 here (Redis is never more than degraded), answered without waiting on Redis.</summary>
    private static async Task<JsonObject> HealthAsync(HttpClient http)
    {
        var stopwatch = Stopwatch.StartNew();
        using var response = await http.GetAsync("/health", Ct);
        Assert.True(stopwatch.Elapsed < NormalLatency, $"/health took {stopwatch.Elapsed}");
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToJsonString());
        return body;
    }

    private static async Task<int> RedisKeysAsync(RedisServer redis)
    {
        try
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
            return connection.GetServer(connection.GetEndPoints().Single()).Keys(pattern: "*mcp-proxy:ro:*").Count(); // the cache entries of backend "ro" (replica session records share Redis)
        }
        catch (RedisConnectionException)
        {
            return -1;
        }
    }
}
