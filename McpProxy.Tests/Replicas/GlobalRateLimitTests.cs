using McpProxy.Caching;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Replicas;

/// <summary><c>[backends.rate_limit] scope = "global"</c>: three real proxies, one real Redis, one limit for the fleet.</summary>
public sealed class GlobalRateLimitTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    [Fact]
    public async Task Global_rate_limit_holds_across_three_replicas_and_falls_back_to_the_replica_when_redis_is_down()
    {
        const int limit = 20;
        await using var backend = await SampleHttpHost.StartAsync();
        await using var fleet = await ReplicaFleet.StartAsync(3, backend.Backend("r", $"""
            [backends.rate_limit]
            requests = {limit}
            period_seconds = 60
            scope = "global"
            """));
        for (var i = 0; i < fleet.Count; i++)
        {
            var connection = fleet[i].Services.GetRequiredService<RedisConnection>();
            await WaitUntil(() => connection.IsConnected == true);
        }

        var clients = new List<McpClient>();
        for (var i = 0; i < fleet.Count; i++)
        {
            clients.Add(await fleet[i].ConnectAsync(cancellationToken: Ct));
        }

        try
        {
            // Three times the limit, round-robin over the replicas, all at once: the fleet admits the limit, within one
            // call of tolerance per replica (a per-replica limit would admit three times as many).
            var outcomes = await Task.WhenAll(Enumerable.Range(0, 3 * limit).Select(async i =>
            {
                try
                {
                    await clients[i % clients.Count].CallToolAsync("r/echo", Message("x"), cancellationToken: Ct);
                    return true;
                }
                catch (McpProtocolException ex)
                {
                    Assert.Contains("rate limit exceeded (20 requests per 60 s across replicas)", ex.Message, StringComparison.Ordinal);
                    return false;
                }
            }));
            var accepted = outcomes.Count(o => o);
            Assert.InRange(accepted, limit, limit + fleet.Count);
            Assert.Equal(accepted, backend.ToolCalls);

            // Redis down: calls are never refused because of it; the replica's own limiter counts meanwhile.
            await fleet.Redis.StopAsync();
            Assert.Equal("still served", Text(await clients[0].CallToolAsync("r/echo", Message("still served"), cancellationToken: Ct)));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }
}
