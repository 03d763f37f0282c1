using System.Diagnostics;
using System.Text.Json.Nodes;
using McpProxy.Sessions;
using McpProxy.Security;
using McpProxy.Mirroring;
using McpProxy.Resilience;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Resilience;

/// <summary><c>[proxy] shutdown_timeout_seconds</c>: stop accepting, drain calls in flight up to the timeout, then stop the children.</summary>
public sealed class ShutdownTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private static string Config(int shutdownTimeoutSeconds) => $"""
        [proxy]
        name = "drain-test"
        shutdown_timeout_seconds = {shutdownTimeoutSeconds}
        [proxy.listen]
        port = 0

        {TestPaths.SampleStdioBackend("s")}
        """;

    [Fact]
    public async Task Shutdown_drains_calls_in_flight_refuses_new_ones_then_stops_the_children()
    {
        var proxy = await ProxyHost.StartAsync(Config(10));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var pid = await ChildPidAsync(client);

        var inFlight = client.CallToolAsync("s/sleep", new Dictionary<string, object?> { ["ms"] = 1500 }, cancellationToken: Ct).AsTask();
        var calls = proxy.Services.GetRequiredService<InFlightCalls>();
        await TestCalls.WaitUntil(() => calls.Count == 1); // the call is in flight

        var stopwatch = Stopwatch.StartNew();
        var stopping = proxy.DisposeAsync().AsTask();
        await TestCalls.WaitUntil(() => calls.IsStopping); // the drain has begun

        // A call that arrives while draining is refused with a clear error: the listener is still up during the drain.
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("s/echo", new Dictionary<string, object?> { ["message"] = "late" }, cancellationToken: Ct).AsTask());
        Assert.Contains("shutting down", refused.Message, StringComparison.Ordinal);

        // The call in flight completes normally.
        var result = await inFlight;
        Assert.NotEqual(true, result.IsError);
        await stopping;
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(900), $"stopped after {stopwatch.Elapsed}: did not wait for the call");
        Assert.True(await TestCalls.HasExitedAsync(pid), "the stdio child is still running after shutdown");
    }

    [Fact]
    public async Task Shutdown_timeout_bounds_the_drain_and_the_children_are_stopped_anyway()
    {
        var proxy = await ProxyHost.StartAsync(Config(1));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var pid = await ChildPidAsync(client);

        var inFlight = client.CallToolAsync("s/sleep", new Dictionary<string, object?> { ["ms"] = 30_000 }, cancellationToken: Ct).AsTask();
        var calls = proxy.Services.GetRequiredService<InFlightCalls>();
        await TestCalls.WaitUntil(() => calls.Count == 1); // the call is in flight

        var stopwatch = Stopwatch.StartNew();
        await proxy.DisposeAsync();
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"shutdown took {stopwatch.Elapsed} with a 1 s timeout");
        Assert.True(await TestCalls.HasExitedAsync(pid), "the stdio child is still running after shutdown");
        await Assert.ThrowsAnyAsync<Exception>(() => inFlight);
    }

    private static async Task<int> ChildPidAsync(McpClient client)
    {
        var stats = await client.CallToolAsync("s/stats", cancellationToken: Ct);
        return (int)JsonNode.Parse(Assert.IsType<TextContentBlock>(Assert.Single(stats.Content)).Text)!["pid"]!;
    }
}
