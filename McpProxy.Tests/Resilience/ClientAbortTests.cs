using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Resilience;

/// <summary>
/// A client that goes away (its POST's connection dropped while a <c>tools/call</c> is in flight) cancels the backend
/// call: the backend sees the cancellation at once, the concurrency permit is free for the next call, and the
/// in-flight gauge of <c>/admin/metrics</c> is back to 0 — nothing keeps running until the timeout.
/// </summary>
// Alone: these scrape gauges while backends restart. Every in-process proxy's OpenTelemetry listener also sees the
// other test proxies' "McpProxy" meters (it filters by meter name only), and when one of those hosts is disposed the
// shared metric stream goes with it, so a gauge could vanish from this proxy's /admin/metrics. One proxy per process
// (production) is not affected.
[Collection(McpProxy.Tests.Security.AloneCollection.Name)]
public sealed class ClientAbortTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    // One call at a time, none waiting: a permit still held by the abandoned call would refuse the next one.
    private const string OnePermit = """
        [backends.timeout]
        seconds = 120
        [backends.concurrency]
        max_concurrent = 1
        max_queued = 0
        """;

    private const string Metrics = """
        [observability.metrics]
        enabled = true

        """;

    [Fact]
    public async Task An_aborted_client_request_cancels_the_stdio_backend_call_and_frees_its_permit()
    {
        await using var proxy = await ProxyHost.StartAsync(Metrics + TestPaths.SampleStdioBackend("abort-stdio") + OnePermit);
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        using var admin = new HttpClient { BaseAddress = proxy.BaseAddress };

        await AbortSlowCallAsync(proxy.McpEndpoint, "abort-stdio/slow");

        await WaitUntil(async () => await InFlightAsync(admin, "abort-stdio") == 0);

        // The permit is free: the next call is served at once (with one permit and no queue it would be refused otherwise),
        // and the child saw notifications/cancelled for the abandoned call.
        await WaitUntil(async () => (long)JsonNode.Parse(Text(await client.CallToolAsync("abort-stdio/stats", cancellationToken: Ct)))!["cancellations"]! == 1);
    }

    [Fact]
    public async Task An_aborted_client_request_cancels_the_http_backend_call_and_frees_its_permit()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(Metrics + backend.Backend("abort-http", OnePermit));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        using var admin = new HttpClient { BaseAddress = proxy.BaseAddress };

        await AbortSlowCallAsync(proxy.McpEndpoint, "abort-http/slow");

        await WaitUntil(() => backend.Cancellations == 1);
        await WaitUntil(async () => await InFlightAsync(admin, "abort-http") == 0);
        Assert.Equal("free", Text(await client.CallToolAsync("abort-http/echo", Message("free"), cancellationToken: Ct)));
    }

    private static async Task<double?> InFlightAsync(HttpClient admin, string backend) =>
        await PrometheusText.ScrapeAsync(admin, "mcp_proxy_backend_calls_in_flight", ("backend", backend));

    /// <summary>
    /// A raw Streamable HTTP client: opens a session, starts a long <c>slow</c> call with a progress token, waits for
    /// the first progress event (the backend is working on it), then drops the connection.
    /// </summary>
    private static async Task AbortSlowCallAsync(Uri endpoint, string tool)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 });
        var session = await OpenRawSessionAsync(http, endpoint, Ct);

        var call = SessionPost(endpoint, session,
            """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":""" + "\"" + tool + "\"" +
            ""","arguments":{"steps":2000,"delay_ms":50},"_meta":{"progressToken":"abort-me"}}}""");
        var response = await http.SendAsync(call, HttpCompletionOption.ResponseHeadersRead, Ct);
        response.EnsureSuccessStatusCode();
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        while (await reader.ReadLineAsync(Ct) is { } line && !line.Contains("notifications/progress", StringComparison.Ordinal))
        {
        }

        // The client goes away: response stream closed, connection dropped.
        reader.Dispose();
        response.Dispose();
    }
}
