using System.Collections.Concurrent;
using System.Text.Json;
using McpProxy.Tests.Infrastructure;
using McpProxy.Tests.Routing;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static McpProxy.Tests.Routing.AggregationTests;

namespace McpProxy.Tests.Sessions;

/// <summary>list_changed, progress and cancellation flowing through the proxy, over stdio and HTTP backends.</summary>
public sealed class NotificationTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Theory]
    [InlineData("stdio")]
    [InlineData("http")]
    public async Task Backend_tool_list_changed_reaches_the_client_as_list_changed(string transport)
    {
        await using var sample = transport == "http" ? await SampleHttpHost.StartAsync() : null;
        await using var proxy = await ProxyHost.StartAsync(sample?.Backend("s") ?? TestPaths.SampleStdioBackend("s"));
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = await proxy.ConnectAsync(new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                NotificationHandlers = [new(NotificationMethods.ToolListChangedNotification, (_, _) => { changed.TrySetResult(); return default; })],
            },
        });
        Assert.DoesNotContain(await client.ListToolsAsync(cancellationToken: Ct), t => t.Name == "s/extra");

        Assert.Equal("added", Text(await client.CallToolAsync("s/toggle_extra", cancellationToken: Ct)));

        await changed.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var tools = await client.ListToolsAsync(cancellationToken: Ct);
        Assert.Contains(tools, t => t.Name == "s/extra");
        Assert.Equal("extra", Text(await client.CallToolAsync("s/extra", cancellationToken: Ct)));
    }

    [Theory]
    [InlineData("stdio")]
    [InlineData("http")]
    public async Task Progress_from_the_backend_reaches_the_caller_under_its_own_token(string transport)
    {
        await using var sample = transport == "http" ? await SampleHttpHost.StartAsync() : null;
        await using var proxy = await ProxyHost.StartAsync(sample?.Backend("s") ?? TestPaths.SampleStdioBackend("s"));
        await using var client = await proxy.ConnectAsync();
        var reports = new ConcurrentQueue<ProgressNotificationValue>();

        var result = await client.CallToolAsync(
            "s/slow",
            new Dictionary<string, object?> { ["steps"] = 4, ["delay_ms"] = 20 },
            new SyncProgress(reports.Enqueue),
            cancellationToken: Ct);

        Assert.Equal("done 4 steps", Text(result));
        // Notifications may trail the response slightly.
        for (var i = 0; i < 50 && reports.Count < 4; i++)
        {
            await Task.Delay(50);
        }

        // The C# SDK 2.4.0 client dispatches notifications concurrently with responses and can drop a trailing one
        // after the call returns; the TypeScript client test asserts the complete sequence.
        Assert.NotEmpty(reports);
        Assert.Subset(new HashSet<float> { 1f, 2f, 3f, 4f }, reports.Select(r => r.Progress).ToHashSet());
        Assert.All(reports, r => Assert.Equal(4f, r.Total));
    }

    [Theory]
    [InlineData("stdio")]
    [InlineData("http")]
    public async Task Client_cancellation_reaches_the_backend(string transport)
    {
        await using var sample = transport == "http" ? await SampleHttpHost.StartAsync() : null;
        await using var proxy = await ProxyHost.StartAsync(sample?.Backend("s") ?? TestPaths.SampleStdioBackend("s"));
        await using var client = await proxy.ConnectAsync();

        // Sent by hand: the C# SDK 2.4.0 client does not emit notifications/cancelled over Streamable HTTP when its
        // token fires, so the test speaks the protocol itself (the TypeScript client does send it).
        var id = new RequestId("cancel-me");
        using var local = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var pending = client.SendRequestAsync(
            new JsonRpcRequest
            {
                Id = id,
                Method = RequestMethods.ToolsCall,
                Params = JsonSerializer.SerializeToNode(new { name = "s/sleep", arguments = new { ms = 30_000 } }),
            },
            local.Token);

        // Wait until the backend has begun the call (its counter includes the stats calls that ask), not a guess.
        for (var asked = 1; AggregationTests.Json(await client.CallToolAsync("s/stats", cancellationToken: Ct)).GetProperty("toolCalls").GetInt64() - asked < 1; asked++)
        {
        }

        await client.SendNotificationAsync(
            NotificationMethods.CancelledNotification,
            new CancelledNotificationParams { RequestId = id, Reason = "test" },
            cancellationToken: Ct);
        await local.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);

        // The backend saw the cancellation (it counts them) — the call did not run on for 30 s.
        var cancellations = 0;
        for (var i = 0; i < 100 && cancellations == 0; i++)
        {
            var stats = AggregationTests.Json(await client.CallToolAsync("s/stats", cancellationToken: Ct));
            cancellations = stats.GetProperty("cancellations").GetInt32();
            if (cancellations == 0)
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(1, cancellations);
    }

    [Fact]
    public async Task A_backend_that_fails_to_start_is_unhealthy_and_the_rest_serve()
    {
        await using var proxy = await ProxyHost.StartAsync(
            TestPaths.SampleStdioBackend("good") + """
            [[backends]]
            name = "broken"
            transport = "stdio"
            command = "/nonexistent/mcp-server"

            [[backends]]
            name = "unreachable"
            transport = "http"
            url = "http://127.0.0.1:1/mcp"
            [backends.timeout]
            seconds = 3
            """);
        await using var client = await proxy.ConnectAsync();

        var tools = await client.ListToolsAsync(cancellationToken: Ct);
        Assert.Contains(tools, t => t.Name == "good/echo");
        Assert.DoesNotContain(tools, t => t.Name.StartsWith("broken/", StringComparison.Ordinal));
        Assert.Equal("ok", Text(await client.CallToolAsync("good/echo", new Dictionary<string, object?> { ["message"] = "ok" }, cancellationToken: Ct)));

        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        var health = await http.GetAsync("/health", Ct);
        var body = await health.Content.ReadAsStringAsync(Ct);
        var report = System.Text.Json.Nodes.JsonNode.Parse(body)!;
        Assert.Equal("Degraded", (string?)report["status"]);
        var backends = report["checks"]!["backends"]!;
        Assert.Equal("Degraded", (string?)backends["status"]);
        Assert.Contains("broken", (string?)backends["description"], StringComparison.Ordinal);
        Assert.True((await http.GetAsync("/alive", Ct)).IsSuccessStatusCode);
    }

    [Fact]
    public async Task A_crashed_stdio_backend_fails_fast_then_comes_back_with_list_changed()
    {
        await using var proxy = await ProxyHost.StartAsync(TestPaths.SampleStdioBackend("c", "--crash-after", "1"));
        var changes = 0;
        await using var client = await proxy.ConnectAsync(new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                NotificationHandlers = [new(NotificationMethods.ToolListChangedNotification, (_, _) => { Interlocked.Increment(ref changes); return default; })],
            },
        });

        // The first call is served, then the child exits.
        await CallIgnoringCrash(client);

        // While it is down: the tools are gone and a call fails fast, naming the backend, why, and the tool.
        var sawGap = false;
        for (var i = 0; i < 100 && !sawGap; i++)
        {
            sawGap = !(await client.ListToolsAsync(cancellationToken: Ct)).Any(t => t.Name == "c/echo");
            if (!sawGap)
            {
                await Task.Delay(20);
            }
        }

        Assert.True(sawGap, "the crashed backend's tools stayed listed");
        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("c/echo", new Dictionary<string, object?> { ["message"] = "x" }, cancellationToken: Ct).AsTask());
        Assert.Contains("'c/echo'", ex.Message);
        Assert.Contains("Backend 'c' is unavailable", ex.Message);
        Assert.Equal(McpErrorCode.InternalError, ex.ErrorCode);

        // The supervisor restarts it; the catalog returns and clients hear about it.
        IList<McpClientTool> tools = [];
        for (var i = 0; i < 100 && !tools.Any(t => t.Name == "c/echo"); i++)
        {
            await Task.Delay(100);
            tools = await client.ListToolsAsync(cancellationToken: Ct);
        }

        Assert.Contains(tools, t => t.Name == "c/echo");
        Assert.True(Volatile.Read(ref changes) >= 2, "expected list_changed when the tools went and came back");
        Assert.Equal("back", Text(await client.CallToolAsync("c/echo", new Dictionary<string, object?> { ["message"] = "back" }, cancellationToken: Ct)));

        static async Task CallIgnoringCrash(McpClient client)
        {
            try
            {
                await client.CallToolAsync("c/echo", new Dictionary<string, object?> { ["message"] = "first" }, cancellationToken: Ct);
            }
            catch (McpException)
            {
                // The child may exit before its answer is flushed; either way it is gone after the first call.
            }
        }
    }

    private sealed class SyncProgress(Action<ProgressNotificationValue> report) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value) => report(value);
    }
}
