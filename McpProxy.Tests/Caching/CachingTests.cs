using System.Net.Http.Json;
using System.Text.Json.Nodes;
using McpProxy.Caching;
using McpProxy.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using StackExchange.Redis;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Caching;

/// <summary>The response cache (HybridCache, Redis as its distributed layer) and request coalescing, through the real endpoint.</summary>
public sealed class CachingTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private const string Coalescing = """
        [performance]
        coalesce_requests = true

        """;

    private const string CacheConfig = """
        [backends.cache]
        resource_ttl_seconds = 60
        tool_ttl_seconds = 60
        """;

    [Fact]
    public async Task Read_only_successes_are_cached_in_redis_and_shared_by_proxy_instances_other_calls_are_not()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        var toml = backend.Backend("b", CacheConfig);
        void UseRedis(WebApplicationBuilder builder) => builder.Configuration["ConnectionStrings:cache"] = redis.ConnectionString;

        await using (var proxy = await ProxyHost.StartAsync(toml, configure: UseRedis))
        {
            await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

            Assert.Equal("hello", Text(await client.CallToolAsync("b/echo", Message("hello"), cancellationToken: Ct)));
            Assert.Equal("hello", Text(await client.CallToolAsync("b/echo", Message("hello"), cancellationToken: Ct)));
            Assert.Equal(1, backend.ToolCalls);

            // Different arguments: a different entry. Same arguments in another key order: the same entry.
            Assert.Equal("other", Text(await client.CallToolAsync("b/echo", Message("other"), cancellationToken: Ct)));
            Assert.Equal("3", Text(await client.CallToolAsync("b/add", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 }, cancellationToken: Ct)));
            Assert.Equal("3", Text(await client.CallToolAsync("b/add", new Dictionary<string, object?> { ["b"] = 2, ["a"] = 1 }, cancellationToken: Ct)));
            Assert.Equal(3, backend.ToolCalls);

            // Not read-only ('fail'), or not a success (isError, a JSON-RPC error): never cached.
            for (var i = 0; i < 2; i++)
            {
                await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("b/fail", Message("no"), cancellationToken: Ct).AsTask());
                Assert.True((await client.CallToolAsync("b/tool_error", Message("no"), cancellationToken: Ct)).IsError);
            }

            Assert.Equal(7, backend.ToolCalls);

            // Resources too.
            var first = await client.ReadResourceAsync("b/sample://info", cancellationToken: Ct);
            var second = await client.ReadResourceAsync("b/sample://info", cancellationToken: Ct);
            Assert.Equal("b/sample://info", Assert.Single(second.Contents).Uri);
            Assert.Equal(Assert.IsType<TextResourceContents>(Assert.Single(first.Contents)).Text, Assert.IsType<TextResourceContents>(Assert.Single(second.Contents)).Text);

            using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
            var stats = (await http.GetFromJsonAsync<JsonObject>("/admin/cache/stats", Ct))!;
            Assert.Equal("redis", (string?)stats["layer"]);
            Assert.Equal(3, (long)stats["hits"]!); // echo, add (reordered), the second resource read
            Assert.Equal(6, (long)stats["misses"]!); // echo x2, add, tool_error x2 (looked up, not stored), first read
        }

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var server = connection.GetServer(connection.GetEndPoints().Single());
        await WaitUntil(() => server.Keys(pattern: "*mcp-proxy:b:*").Count() == 4); // the L2 write is in the background
        var keys = server.Keys(pattern: "*mcp-proxy:b:*").ToList();
        Assert.DoesNotContain(keys, k => k.ToString().Contains("hello", StringComparison.Ordinal)); // arguments are hashed

        // The entries live in Redis: a fresh proxy instance (empty in-memory layer) answers from it without the backend.
        await using (var proxy = await ProxyHost.StartAsync(toml, configure: UseRedis))
        {
            await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
            Assert.Equal("hello", Text(await client.CallToolAsync("b/echo", Message("hello"), cancellationToken: Ct)));
            Assert.Equal(7, backend.ToolCalls);
        }

    }

    [Fact]
    public async Task Cache_tools_names_exactly_the_tools_to_cache_read_only_or_not()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", CacheConfig + "\ncache_tools = [\"toggle_*\"]\n"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        Assert.Equal("added", Text(await client.CallToolAsync("b/toggle_extra", cancellationToken: Ct)));
        Assert.Equal("added", Text(await client.CallToolAsync("b/toggle_extra", cancellationToken: Ct))); // from the cache
        await client.CallToolAsync("b/echo", Message("x"), cancellationToken: Ct);
        await client.CallToolAsync("b/echo", Message("x"), cancellationToken: Ct); // read-only, but not listed
        Assert.Equal(3, backend.ToolCalls);
    }

    [Fact]
    public async Task Cache_clear_drops_entries_and_max_entries_evicts_the_oldest()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", CacheConfig + "\nmax_entries = 2\n"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };

        foreach (var m in new[] { "1", "2", "3" })
        {
            await client.CallToolAsync("b/echo", Message(m), cancellationToken: Ct);
        }

        // '1' was evicted to keep two entries; '3' is still cached.
        await client.CallToolAsync("b/echo", Message("3"), cancellationToken: Ct);
        Assert.Equal(3, backend.ToolCalls);
        await client.CallToolAsync("b/echo", Message("1"), cancellationToken: Ct);
        Assert.Equal(4, backend.ToolCalls);

        using var clear = await http.PostAsync("/admin/cache/clear", null, Ct);
        Assert.True(clear.IsSuccessStatusCode);
        Assert.Equal(true, (bool?)(await clear.Content.ReadFromJsonAsync<JsonObject>(Ct))!["cleared"]);
        await client.CallToolAsync("b/echo", Message("3"), cancellationToken: Ct);
        Assert.Equal(5, backend.ToolCalls);

        var stats = (await http.GetFromJsonAsync<JsonObject>("/admin/cache/stats", Ct))!;
        Assert.Equal("memory", (string?)stats["layer"]);
        Assert.True((long)stats["backends"]!["b"]!["entries"]! <= 2);
    }

    [Fact]
    public async Task Identical_concurrent_calls_share_one_backend_call_and_a_cancelled_first_caller_strands_no_one()
    {
        await using var backend = await SampleHttpHost.StartAsync("--latency-ms", "1500");
        await using var proxy = await ProxyHost.StartAsync(Coalescing + backend.Backend("b"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => client.CallToolAsync("b/echo", Message("same"), cancellationToken: Ct).AsTask()));
        Assert.All(results, r => Assert.Equal("same", Text(r)));
        Assert.Equal(1, backend.ToolCalls);

        // The first caller starts the shared call, three more join, then the first cancels: the others still get it.
        var firstId = new RequestId("first-caller");
        var first = client.SendRequestAsync(
            new JsonRpcRequest { Id = firstId, Method = RequestMethods.ToolsCall, Params = new JsonObject { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = "shared" } } },
            Ct);
        await WaitUntil(() => backend.ToolCalls >= 2);

        var coalescer = proxy.Services.GetRequiredService<RequestCoalescer>();
        var joinedBefore = coalescer.Coalesced;
        var followers = Enumerable.Range(0, 3).Select(_ => client.CallToolAsync("b/echo", Message("shared"), cancellationToken: Ct).AsTask()).ToArray();
        await WaitUntil(() => coalescer.Coalesced == joinedBefore + 3); // all three have joined the first caller's call
        await client.SendNotificationAsync(NotificationMethods.CancelledNotification, new CancelledNotificationParams { RequestId = firstId }, cancellationToken: Ct);

        Assert.All(await Task.WhenAll(followers), r => Assert.Equal("shared", Text(r)));
        Assert.Equal(2, backend.ToolCalls);
        Assert.Equal(0, backend.Cancellations);
        _ = first.ContinueWith(static t => t.Exception, TaskScheduler.Default); // the cancelled request gets no answer
    }

    [Fact]
    public async Task Calls_that_are_not_safe_to_repeat_are_never_coalesced()
    {
        await using var backend = await SampleHttpHost.StartAsync("--latency-ms", "300");
        await using var proxy = await ProxyHost.StartAsync(Coalescing + backend.Backend("b"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.CallToolAsync("b/toggle_extra", cancellationToken: Ct).AsTask()));
        Assert.Equal(4, backend.ToolCalls);
    }
}
