using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static McpProxy.Tests.Eras.ModernHttp;

namespace McpProxy.Tests.FastPath;

/// <summary>
/// <c>mcp.server.operation.duration</c> is the MCP SDK's server metric: the fast path answers without the SDK's server
/// and records the same instrument, so <c>/admin/metrics</c> shows a fast-path call as the typed path's. Runs alone:
/// the SDK's meter is process-wide, so every in-process proxy's endpoint shows what any of them (and the in-process
/// sample backend) recorded, and the test reads which of the proxy's series a call moved.
/// </summary>
[Collection(McpProxy.Tests.Security.AloneCollection.Name)]
public sealed class FastPathMetricsTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    [Theory]
    [InlineData("tools/call", "b/echo", """{"name":"b/echo","arguments":{"message":"m"}}""")]
    [InlineData("tools/call", "b/tool_error", """{"name":"b/tool_error","arguments":{"message":"x"}}""")]
    [InlineData("tools/call", "b/fail", """{"name":"b/fail","arguments":{"message":"boom"}}""")]
    [InlineData("prompts/get", "b/greet", """{"name":"b/greet","arguments":{"name":"Ada"}}""")]
    [InlineData("resources/read", "b/sample://info", """{"uri":"b/sample://info"}""")]
    public async Task A_fast_path_call_moves_the_sdk_s_server_duration_series_the_typed_path_moves(string method, string name, string parameters)
    {
        await using var backend = await SampleHttpHost.StartAsync();
        const string Metrics = "[observability.metrics]\nenabled = true\n";
        await using var fast = await ProxyHost.StartAsync(Metrics + backend.Backend("b"));
        await using var typed = await ProxyHost.StartAsync(Metrics + backend.Backend("b", "fast_path = false\n"));
        using var http = new HttpClient();

        var typedSeries = await MovedAsync(http, typed, () => SendAsync(http, Request(typed.McpEndpoint, method, JsonNode.Parse(parameters)!.AsObject(), name, id: 1), Ct));
        var fastSeries = await MovedAsync(http, fast, () => SendAsync(http, Request(fast.McpEndpoint, method, JsonNode.Parse(parameters)!.AsObject(), name, id: 1), Ct));

        Assert.Equal(1, fast.Services.GetRequiredService<BackendRegistry>().Backends.Single().FastPathCalls);
        Assert.Contains("mcp_protocol_version=2026-07-28", typedSeries, StringComparison.Ordinal);
        Assert.Equal(typedSeries, fastSeries);
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b/echo","arguments":{"message":"m"}}}""")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b/tool_error","arguments":{"message":"x"}}}""")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b/fail","arguments":{"message":"boom"}}}""")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"b/sample://info"}}""")]
    public async Task A_legacy_session_s_fast_path_call_moves_the_series_its_typed_call_moves(string request)
    {
        await using var backend = await SampleHttpHost.StartAsync();
        const string Metrics = "[observability.metrics]\nenabled = true\n";
        await using var fast = await ProxyHost.StartAsync(Metrics + backend.Backend("b"));
        await using var typed = await ProxyHost.StartAsync(Metrics + backend.Backend("b", "fast_path = false\n"));
        using var http = new HttpClient();
        var fastSession = await TestCalls.OpenRawSessionAsync(http, fast.McpEndpoint, Ct);
        var typedSession = await TestCalls.OpenRawSessionAsync(http, typed.McpEndpoint, Ct);

        var typedSeries = await MovedAsync(http, typed, () => SendAsync(http, TestCalls.SessionPost(typed.McpEndpoint, typedSession, request), Ct));
        var fastSeries = await MovedAsync(http, fast, () => SendAsync(http, TestCalls.SessionPost(fast.McpEndpoint, fastSession, request), Ct));

        Assert.Equal(1, fast.Services.GetRequiredService<BackendRegistry>().Backends.Single().FastPathCalls);
        Assert.Contains("mcp_protocol_version=2025-11-25", typedSeries, StringComparison.Ordinal);
        Assert.Equal(typedSeries, fastSeries);
    }

    /// <summary>The one <c>mcp_server_operation_duration_seconds_count</c> series (its labels) that <paramref name="call"/> moved by one.</summary>
    private static async Task<string> MovedAsync(HttpClient http, ProxyHost proxy, Func<Task> call)
    {
        var before = await CountsAsync(http, proxy);
        await call();

        // The exporter answers a scrape from its cache for a moment (ScrapeResponseCacheDurationMilliseconds): poll
        // until the scrape shows the call.
        List<KeyValuePair<string, double>> moved = [];
        for (var poll = 0; poll < 100 && moved.Count == 0; poll++)
        {
            await Task.Delay(50, Ct);
            var after = await CountsAsync(http, proxy);
            moved = [.. after.Where(p => p.Value != before.GetValueOrDefault(p.Key))];
        }

        Assert.True(moved.Count == 1, $"series moved by the call: {moved.Count} ({string.Join(" | ", moved.Select(m => m.Key))})");
        var series = moved[0];
        Assert.Equal(before.GetValueOrDefault(series.Key) + 1, series.Value);
        return series.Key;
    }

    private static async Task<Dictionary<string, double>> CountsAsync(HttpClient http, ProxyHost proxy)
    {
        var samples = PrometheusText.Parse(await http.GetStringAsync(new Uri(proxy.BaseAddress, "/admin/metrics"), Ct));
        return samples
            .Where(s => s.Name == "mcp_server_operation_duration_seconds_count" && s.Labels.GetValueOrDefault("mcp_method_name") is "tools/call" or "prompts/get" or "resources/read")
            // The proxy's names ("b/…"): the in-process sample backend's SDK server records its own ("echo") on the same meter.
            .Where(s => (s.Labels.GetValueOrDefault("gen_ai_tool_name") ?? s.Labels.GetValueOrDefault("gen_ai_prompt_name") ?? s.Labels.GetValueOrDefault("mcp_resource_uri") ?? "").StartsWith("b/", StringComparison.Ordinal))
            .ToDictionary(
                s => string.Join(",", s.Labels.Where(l => !l.Key.StartsWith("otel_", StringComparison.Ordinal)).OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")),
                s => s.Value);
    }
}
