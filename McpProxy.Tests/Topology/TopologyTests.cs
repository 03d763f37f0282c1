using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting.Testing;
using McpProxy.AppHost;
using ModelContextProtocol.Protocol;
using StackExchange.Redis;

namespace McpProxy.Tests.Topology;

/// <summary>The AppHost's topology, end to end: a real MCP client through the proxy to two HTTP backends found by service discovery.</summary>
[Collection(TopologyCollection.Name)]
public sealed class TopologyTests(TopologyFixture topology)
{
    [Fact]
    public async Task Client_through_the_proxy_sees_and_calls_both_sample_backends()
    {
        var ct = TestContext.Timeout(60);
        await using var client = await topology.ConnectAsync(cancellationToken: ct);

        var tools = (await client.ListToolsAsync(cancellationToken: ct)).Select(t => t.Name).ToHashSet();
        Assert.Contains("sample-a__echo", tools);
        Assert.Contains("sample-b__echo", tools);

        foreach (var backend in new[] { TopologyNames.SampleA, TopologyNames.SampleB })
        {
            var echo = await client.CallToolAsync($"{backend}__echo", new Dictionary<string, object?> { ["message"] = $"hello {backend}" }, cancellationToken: ct);
            Assert.NotEqual(true, echo.IsError);
            Assert.Equal($"hello {backend}", Assert.IsType<TextContentBlock>(Assert.Single(echo.Content)).Text);

            // The backend that answered is the one the name routes to (SAMPLE_NAME is set per resource by the AppHost).
            var stats = await client.CallToolAsync($"{backend}__stats", cancellationToken: ct);
            var json = JsonNode.Parse(Assert.IsType<TextContentBlock>(Assert.Single(stats.Content)).Text)!;
            Assert.Equal(backend, (string?)json["name"]);
        }
    }

    [Fact]
    public async Task The_proxy_is_not_an_open_endpoint()
    {
        var ct = TestContext.Timeout(60);
        using var http = new HttpClient();

        async Task<HttpStatusCode> InitializeAsync(string? token)
        {
            using var request = McpProxy.Tests.Infrastructure.TestCalls.InitializeRequest(topology.McpEndpoint, token);
            using var response = await http.SendAsync(request, ct);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await InitializeAsync(null));
        Assert.Equal(HttpStatusCode.Unauthorized, await InitializeAsync("not-the-token"));
        Assert.Equal(HttpStatusCode.OK, await InitializeAsync(topology.ClientToken));

        // The admin API takes the admin token, not the client's.
        async Task<HttpStatusCode> AdminAsync(string? token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(topology.ProxyBaseAddress, "/admin/backends"));
            if (token is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            }

            using var response = await http.SendAsync(request, ct);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await AdminAsync(null));
        Assert.Equal(HttpStatusCode.Forbidden, await AdminAsync(topology.ClientToken));
        Assert.Equal(HttpStatusCode.OK, await AdminAsync(topology.AdminToken));
    }

    [Fact]
    public async Task Proxy_is_healthy_with_its_redis_cache_reachable()
    {
        var ct = TestContext.Timeout(60);
        using var http = topology.App.CreateHttpClient(TopologyNames.Proxy, "http");

        using var response = await http.GetAsync(new Uri("/health", UriKind.Relative), ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        var health = JsonNode.Parse(body)!;
        Assert.Equal("Healthy", (string?)health["status"]);
        Assert.Equal("Healthy", (string?)health["checks"]!["backends"]!["status"]);

        // The proxy's Redis check (Aspire.StackExchange.Redis) ran against the redis-server of the topology.
        var redisCheck = health["checks"]!.AsObject().Single(c => c.Key.Contains("Redis", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("Healthy", (string?)redisCheck.Value!["status"]);

        // And that Redis is a real server: the connection string the proxy got answers PING and stores data.
        var connectionString = await topology.App.GetConnectionStringAsync(TopologyNames.Cache, ct);
        Assert.False(string.IsNullOrEmpty(connectionString));
        await using var redis = await ConnectionMultiplexer.ConnectAsync(connectionString!);
        var db = redis.GetDatabase();
        Assert.True((await db.PingAsync()) < TimeSpan.FromSeconds(5));
        Assert.True(await db.StringSetAsync("mcp-proxy-topology-test", "ok"));
        Assert.Equal("ok", (string?)await db.StringGetAsync("mcp-proxy-topology-test"));

        // The Redis-backed feature: sample-a's read-only results are cached in that Redis, so a repeated call is
        // answered without the backend, and the entry is visible in Redis itself.
        await using var client = await topology.ConnectAsync(cancellationToken: ct);
        await using var direct = await ModelContextProtocol.Client.McpClient.CreateAsync(
            new ModelContextProtocol.Client.HttpClientTransport(new() { Endpoint = new Uri(topology.App.GetEndpoint(TopologyNames.SampleA, "http"), "/mcp") }),
            cancellationToken: ct);
        async Task<long> ToolCallsAsync() => // asked of sample-a directly, not through the proxy
            (long)JsonNode.Parse(Assert.IsType<TextContentBlock>(Assert.Single((await direct.CallToolAsync("stats", cancellationToken: ct)).Content)).Text)!["toolCalls"]!;
        var marker = Guid.NewGuid().ToString("N");
        await client.CallToolAsync("sample-a__echo", new Dictionary<string, object?> { ["message"] = marker }, cancellationToken: ct);
        var before = await ToolCallsAsync();
        await client.CallToolAsync("sample-a__echo", new Dictionary<string, object?> { ["message"] = marker }, cancellationToken: ct);
        Assert.Equal(before + 1, await ToolCallsAsync()); // only the direct stats call reached sample-a
        // HybridCache writes its distributed layer in the background: give it a moment.
        await McpProxy.Tests.Infrastructure.TestCalls.WaitUntil(() =>
            redis.GetServer(redis.GetEndPoints().Single()).Keys(pattern: "*mcp-proxy:sample-a:*").Any());

        using var alive = await http.GetAsync(new Uri("/alive", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    [Fact]
    public async Task Call_through_the_proxy_carries_W3C_trace_context_and_the_backend_span_is_a_child_of_the_proxy_span()
    {
        var ct = TestContext.Timeout(60);

        // The test is a traced client: a root span, and the MCP SDK's and HttpClient's spans under it, all recorded.
        // The client propagates its context both ways MCP allows: the traceparent header and params._meta.
        using var root = new Activity("topology-test-client").SetIdFormat(ActivityIdFormat.W3C).Start();
        var traceId = root.TraceId.ToHexString();
        var clientSpans = new ConcurrentDictionary<string, string> { [root.SpanId.ToHexString()] = root.DisplayName };
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Experimental.ModelContextProtocol" or "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> options) =>
                options.Parent.TraceId == root.TraceId ? ActivitySamplingResult.AllDataAndRecorded : ActivitySamplingResult.None,
            ActivityStarted = activity => clientSpans[activity.SpanId.ToHexString()] = activity.DisplayName,
        };
        ActivitySource.AddActivityListener(listener);

        await using var client = await topology.ConnectAsync(cancellationToken: ct);
        var result = await client.CallToolAsync("sample-a__whoami", cancellationToken: ct);
        var whoami = JsonNode.Parse(Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text)!;

        // What the backend received over HTTP: a W3C traceparent (version-traceid-parentid-flags) of the client's
        // trace whose parent is not any client span: the proxy's own spans sit between them.
        var received = (string?)whoami["traceparent"];
        Assert.False(string.IsNullOrEmpty(received), whoami.ToJsonString());
        var parts = received!.Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Equal(traceId, parts[1]);
        Assert.DoesNotContain(parts[2], clientSpans.Keys);

        // The backend's span (the SDK's "tools/call whoami" server span) belongs to that trace...
        var span = whoami["span"]!;
        var backendSpanId = (string)span["spanId"]!;
        var backendParentId = (string?)span["parentSpanId"];
        Assert.Equal(traceId, (string?)span["traceId"]);
        Assert.NotNull(backendParentId);

        // ...and its parent is a span the proxy exported, in the same trace, under the proxy's server span for the
        // client's call, whose parent is the client's span. Asserted on the spans the services exported over OTLP.
        var parentSpan = await topology.Traces.WaitForSpanAsync(s => s.SpanId == backendParentId, ct);
        Assert.Equal(TopologyNames.Proxy, parentSpan.Service);
        Assert.Equal(traceId, parentSpan.TraceId);

        var exportedBackendSpan = await topology.Traces.WaitForSpanAsync(s => s.SpanId == backendSpanId, ct);
        Assert.Equal(TopologyNames.SampleA, exportedBackendSpan.Service);
        Assert.Equal(backendParentId, exportedBackendSpan.ParentSpanId);

        // Walk up the proxy's spans from the backend's parent to the one whose parent is a client span.
        var ancestor = parentSpan;
        var chain = new List<string> { ancestor.Name };
        while (ancestor.ParentSpanId is not { } parentId || !clientSpans.ContainsKey(parentId))
        {
            Assert.True(ancestor.ParentSpanId is not null, $"The proxy's span chain ends before reaching a client span: {string.Join(" <- ", chain)}");
            ancestor = await topology.Traces.WaitForSpanAsync(s => s.SpanId == ancestor.ParentSpanId, ct);
            Assert.Equal(TopologyNames.Proxy, ancestor.Service);
            chain.Add(ancestor.Name);
        }

        // The MCP SDK's client span for the backend call, under the proxy's own span for the routed call (with backend
        // and tool attributes), under the SDK's server span for the client's call.
        // (Each named "{mcp.method.name} {target}", as the OpenTelemetry semantic conventions for MCP ask.)
        Assert.Equal(["tools/call whoami", "tools/call sample-a__whoami", "tools/call sample-a__whoami"], chain.Take(3));
    }
}
