using McpProxy.Backends;
using McpProxy.Tests.Infrastructure;
using McpProxy.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Reload;

/// <summary>
/// A hot reload that changes a backend drains it: new calls go to the new connection at once, calls in flight on the
/// old one finish there (up to <c>shutdown_timeout_seconds</c>), and one cut past that timeout says why.
/// </summary>
public sealed class HotReloadDrainTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-reload-drain-").FullName;

    private static CancellationToken Ct => TestContext.Timeout(120);

    private string ConfigPath => Path.Combine(_dir, "mcp-proxy.toml");

    private static string Config(int shutdownTimeoutSeconds, string mark) => $"""
        [proxy]
        name = "reloading"
        hot_reload = true
        shutdown_timeout_seconds = {shutdownTimeoutSeconds}
        [proxy.listen]
        port = 0

        {TestPaths.SampleStdioBackend("x")}
        [backends.env]
        MARK = "{mark}"

        """;

    [Fact]
    public async Task A_changed_backend_finishes_its_calls_in_flight_while_new_calls_go_to_the_new_connection()
    {
        await File.WriteAllTextAsync(ConfigPath, Config(60, "one"), Ct);
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartFromFileAsync(ConfigPath, l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var registry = proxy.Services.GetRequiredService<BackendRegistry>();
        await WaitUntil(() => logs.Entries.Any(e => e.Message.StartsWith("Hot reload: watching", StringComparison.Ordinal)));
        Assert.Equal("one", await MarkAsync(client));
        var old = registry.Backends.Single();

        // A long call (20 s, so that the reload surely lands while it runs), running in the old child (its first progress says so), then the config changes x.
        var started = new FaultRecoveryTests.FirstProgress();
        var call = client.CallToolAsync("x/slow", FaultRecoveryTests.Slow(steps: 200), started, cancellationToken: Ct).AsTask();
        await started.Task.WaitAsync(Ct);
        await File.WriteAllTextAsync(ConfigPath, Config(60, "two"), Ct);

        // Routing switched to the new connection while the call is still running on the old one.
        await WaitUntil(() => !ReferenceEquals(registry.Backends.Single(), old));
        Assert.False(call.IsCompleted, "the call finished before the reload: the test proves nothing");
        Assert.Equal("two", await MarkAsync(client));
        Assert.Equal(BackendState.Ready, old.State);

        // The call in flight completes with its result, then the old connection is stopped.
        var result = await call;
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("done 200 steps", Text(result));
        await WaitUntil(() => old.State == BackendState.Stopped);
        Assert.Equal("two", await MarkAsync(client));
    }

    [Fact]
    public async Task A_call_still_in_flight_past_the_drain_timeout_says_the_backend_was_replaced_by_a_reload()
    {
        await File.WriteAllTextAsync(ConfigPath, Config(1, "one"), Ct);
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartFromFileAsync(ConfigPath, l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        await WaitUntil(() => logs.Entries.Any(e => e.Message.StartsWith("Hot reload: watching", StringComparison.Ordinal)));

        var started = new FaultRecoveryTests.FirstProgress();
        var call = client.CallToolAsync("x/slow", FaultRecoveryTests.Slow(steps: 600), started, cancellationToken: Ct).AsTask();
        await started.Task.WaitAsync(Ct);
        await File.WriteAllTextAsync(ConfigPath, Config(1, "two"), Ct);

        var error = await Assert.ThrowsAsync<McpProtocolException>(() => call);
        Assert.Equal(McpErrorCode.InternalError, error.ErrorCode);
        Assert.Contains("Backend 'x' was replaced by a config reload during the call", error.Message, StringComparison.Ordinal);
        Assert.Equal("two", await MarkAsync(client));
        FaultRecoveryTests.AssertNoStackTraceAboveDebug(logs);
    }

    private static async Task<string?> MarkAsync(McpClient client)
    {
        var result = await client.CallToolAsync("x/env", new Dictionary<string, object?> { ["names"] = new[] { "MARK" } }, cancellationToken: Ct);
        return System.Text.Json.Nodes.JsonNode.Parse(Text(result))!["MARK"]?.GetValue<string>();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
