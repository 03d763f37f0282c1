using System.Security.Cryptography;
using System.Text.Json.Nodes;
using McpProxy.Mrtr;
using McpProxy.Replicas;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace McpProxy.Tests.Mrtr;

/// <summary>
/// A bridged call (modern client ↔ legacy backend) is parked on the replica that runs it: its retry, landing on another
/// replica, is routed to the owner over Redis pub/sub (real <c>redis-server</c>, two proxies sharing it and the state
/// key); without Redis, or with the owner gone, the retry is refused as no longer available.
/// </summary>
public sealed class OwnerRoutingTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    private static string Config(string key) => $"""
        [proxy]
        name = "p"
        [proxy.listen]
        port = 0
        [proxy.mrtr]
        state_keys = ["{key}"]

        {TestPaths.EverythingStdioBackend("e")}
        """;

    private static JsonObject Decline(string key) => new() { [key] = new JsonObject { ["action"] = "decline" } };

    private static (string Key, string State) InputRequired(JsonObject response)
    {
        var result = response["result"]?.AsObject() ?? throw new Xunit.Sdk.XunitException(response.ToJsonString());
        Assert.Equal("input_required", result["resultType"]?.GetValue<string>());
        return (Assert.Single(result["inputRequests"]!.AsObject()).Key, result["requestState"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_retry_on_another_replica_is_routed_to_the_owner_and_refused_once_the_owner_is_gone()
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var redis = await RedisServer.StartAsync();
        void UseRedis(Microsoft.AspNetCore.Builder.WebApplicationBuilder builder) => builder.Configuration["ConnectionStrings:cache"] = redis.ConnectionString;
        var owner = await ProxyHost.StartAsync(Config(key), configure: UseRedis);
        await using var other = await ProxyHost.StartAsync(Config(key), configure: UseRedis);
        try
        {
            await TestCalls.WaitUntil(() => owner.Services.GetRequiredService<OwnerRouting>().Subscribed && other.Services.GetRequiredService<OwnerRouting>().Subscribed);
            using var toOwner = new ModernClient(owner.McpEndpoint);
            using var toOther = new ModernClient(other.McpEndpoint);

            var (k, state) = InputRequired(await toOwner.AnsweringRootsAsync("e/trigger-elicitation-request", await toOwner.CallToolAsync("e/trigger-elicitation-request", cancellationToken: Ct)));
            Assert.Equal(1, owner.Services.GetRequiredService<BridgeRegistry>().Count);
            var routed = await toOther.AnsweringRootsAsync("e/trigger-elicitation-request", await toOther.CallToolAsync("e/trigger-elicitation-request", Decline(k), state, cancellationToken: Ct));
            Assert.Contains("decline", routed["result"]!.ToJsonString(), StringComparison.OrdinalIgnoreCase);
            Assert.Equal(0, owner.Services.GetRequiredService<BridgeRegistry>().Count);

            // The owner stops: a call parked on it is lost, and its retry elsewhere says so at once.
            var (k2, state2) = InputRequired(await toOwner.AnsweringRootsAsync("e/trigger-elicitation-request", await toOwner.CallToolAsync("e/trigger-elicitation-request", cancellationToken: Ct)));
            await owner.DisposeAsync();
            var lost = await toOther.CallToolAsync("e/trigger-elicitation-request", Decline(k2), state2, cancellationToken: Ct);
            Assert.Equal(-32602, lost["error"]?["code"]?.GetValue<int>());
            Assert.Contains("no longer available", lost["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        finally
        {
            await owner.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_replica_started_while_redis_is_down_subscribes_once_it_is_up_and_routes_retries()
    {
        // Redis down (or still coming up) when a replica starts: its first subscribe fails at once. It must keep trying,
        // or retries of calls parked on it could never be routed to it, nor session tombstones reach it.
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        var logs = new CapturingLoggerProvider();
        void UseRedis(Microsoft.AspNetCore.Builder.WebApplicationBuilder builder) => builder.Configuration["ConnectionStrings:cache"] = redis.ConnectionString;
        await using var owner = await ProxyHost.StartAsync(Config(key), logging: l => l.AddProvider(logs), configure: UseRedis);
        await TestCalls.WaitUntil(() => logs.Entries.Any(e => e.Message.Contains("MRTR owner routing: cannot subscribe on Redis", StringComparison.Ordinal)));
        await TestCalls.WaitUntil(() => logs.Entries.Any(e => e.Message.Contains("session tombstone channel", StringComparison.Ordinal)));

        await redis.RestartAsync();
        await using var other = await ProxyHost.StartAsync(Config(key), configure: UseRedis);
        await TestCalls.WaitUntil(() => owner.Services.GetRequiredService<OwnerRouting>().Subscribed && other.Services.GetRequiredService<OwnerRouting>().Subscribed);
        await TestCalls.WaitUntil(() => owner.Services.GetRequiredService<SessionStore>().Subscribed);

        using var toOwner = new ModernClient(owner.McpEndpoint);
        using var toOther = new ModernClient(other.McpEndpoint);
        var (k, state) = InputRequired(await toOwner.AnsweringRootsAsync("e/trigger-elicitation-request", await toOwner.CallToolAsync("e/trigger-elicitation-request", cancellationToken: Ct)));
        var routed = await toOther.AnsweringRootsAsync("e/trigger-elicitation-request", await toOther.CallToolAsync("e/trigger-elicitation-request", Decline(k), state, cancellationToken: Ct));
        Assert.Contains("decline", routed["result"]!.ToJsonString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, owner.Services.GetRequiredService<BridgeRegistry>().Count);
    }

    [Fact]
    public async Task Without_redis_a_retry_on_another_replica_is_refused_as_no_longer_available()
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var owner = await ProxyHost.StartAsync(Config(key));
        await using var other = await ProxyHost.StartAsync(Config(key));
        using var toOwner = new ModernClient(owner.McpEndpoint);
        using var toOther = new ModernClient(other.McpEndpoint);

        var (k, state) = InputRequired(await toOwner.AnsweringRootsAsync("e/trigger-elicitation-request", await toOwner.CallToolAsync("e/trigger-elicitation-request", cancellationToken: Ct)));
        var refused = await toOther.CallToolAsync("e/trigger-elicitation-request", Decline(k), state, cancellationToken: Ct);
        Assert.Equal(-32602, refused["error"]?["code"]?.GetValue<int>());
        Assert.Contains("another proxy replica", refused["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The owner still has it: the retry there completes.
        var done = await toOwner.AnsweringRootsAsync("e/trigger-elicitation-request", await toOwner.CallToolAsync("e/trigger-elicitation-request", Decline(k), state, cancellationToken: Ct));
        Assert.Contains("decline", done["result"]!.ToJsonString(), StringComparison.OrdinalIgnoreCase);
    }
}
