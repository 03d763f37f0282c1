using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Observability;

/// <summary>Audit events, Prometheus metrics after real traffic, and the admin API's JSON.</summary>
public sealed class AdminAndTelemetryTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task Audit_emits_one_structured_event_per_call_without_argument_values()
    {
        var logs = new CapturingLoggerProvider();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await AuditedProxyAsync(backend, "log_level = \"warn\"", logs);
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        await client.CallToolAsync("b/echo", Message("top-secret-argument"), cancellationToken: Ct);
        // (fail's error message is its argument: the tool's own words, which the proxy does pass on.)
        await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("b/fail", Message("boom"), cancellationToken: Ct).AsTask());
        Assert.True((await client.CallToolAsync("b/tool_error", new Dictionary<string, object?> { ["message"] = "x", ["extra"] = "top-secret-argument" }, cancellationToken: Ct)).IsError);
        await client.ReadResourceAsync("b/sample://info", cancellationToken: Ct);

        var audit = logs.Entries.Where(e => e.Category == "McpProxy.Audit").ToList();
        Assert.Equal(4, audit.Count);
        Assert.All(audit, e =>
        {
            Assert.Equal(LogLevel.Information, e.Level); // audit is on although log_level is warn
            Assert.Equal("anonymous", e.State["Caller"]);
            Assert.Equal("b", e.State["Backend"]);
            Assert.True((double)e.State["DurationMs"]! >= 0);
            Assert.Null(e.State["Arguments"]);
        });
        Assert.Equal(["tools/call", "tools/call", "tools/call", "resources/read"], audit.Select(e => (string)e.State["Method"]!));
        Assert.Equal(["b/echo", "b/fail", "b/tool_error", "b/sample://info"], audit.Select(e => (string)e.State["Item"]!));
        Assert.Equal(["ok", "error", "tool_error", "ok"], audit.Select(e => (string)e.State["Outcome"]!));

        // No log line of any category carries the argument value.
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("top-secret-argument", StringComparison.Ordinal));
        // log_level = warn: no information lines from the proxy itself besides the audit.
        Assert.DoesNotContain(logs.Entries, e => e.Category.StartsWith("McpProxy.Backends", StringComparison.Ordinal) && e.Level < LogLevel.Warning);
    }

    [Fact]
    public async Task Audit_arguments_are_included_only_when_configured()
    {
        var logs = new CapturingLoggerProvider();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await AuditedProxyAsync(backend, "audit_arguments = true", logs);
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        await client.CallToolAsync("b/echo", Message("visible-argument"), cancellationToken: Ct);
        var audit = Assert.Single(logs.Entries, e => e.Category == "McpProxy.Audit");
        Assert.Equal("""{"message":"visible-argument"}""", audit.State["Arguments"]);
    }

    [Fact]
    public async Task Prometheus_metrics_at_admin_metrics_reflect_the_traffic_per_backend()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [proxy]
            name = "metered"
            [proxy.listen]
            port = 0
            [observability.metrics]
            enabled = true

            """ + backend.Backend("mb", """
            [backends.cache]
            tool_ttl_seconds = 60
            [backends.retry]
            max_retries = 2
            initial_backoff_ms = 1
            max_backoff_ms = 2
            budget_percent = 100
            [backends.circuit_breaker]
            minimum_calls = 100
            """) + backend.Backend("mr", """
            [backends.rate_limit]
            requests = 1
            period_seconds = 60
            """));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        // Backend and proxy names are unique to this test: the proxies of parallel tests in this process report
        // instruments of the same meter name, so every assertion filters on them.
        await client.CallToolAsync("mb/echo", Message("m"), cancellationToken: Ct);
        await client.CallToolAsync("mb/echo", Message("m"), cancellationToken: Ct); // cache hit
        backend.Options.ErrorRate = 1;
        await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("mb/echo", Message("n"), cancellationToken: Ct).AsTask()); // 2 retries
        backend.Options.ErrorRate = 0;
        await client.CallToolAsync("mr/echo", Message("m"), cancellationToken: Ct);
        await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("mr/echo", Message("m"), cancellationToken: Ct).AsTask()); // rate limited

        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        var text = await http.GetStringAsync("/admin/metrics", Ct);
        var samples = PrometheusText.Parse(text);

        Assert.Equal(2, Value(samples, "mcp_proxy_requests_total", ("backend", "mb"), ("method", "tools/call"), ("outcome", "ok")));
        Assert.Equal(1, Value(samples, "mcp_proxy_requests_total", ("backend", "mb"), ("outcome", "error")));
        Assert.Equal(1, Value(samples, "mcp_proxy_requests_total", ("backend", "mr"), ("outcome", "rejected")));
        Assert.Equal(2, Value(samples, "mcp_proxy_backend_retries_total", ("backend", "mb")));
        Assert.Equal(1, Value(samples, "mcp_proxy_backend_rejections_total", ("backend", "mr"), ("reason", "rate_limit")));
        Assert.Equal(1, Value(samples, "mcp_proxy_cache_hits_total", ("backend", "mb")));
        Assert.Equal(2, Value(samples, "mcp_proxy_cache_misses_total", ("backend", "mb")));
        Assert.Equal(0, Value(samples, "mcp_proxy_backend_circuit_state", ("backend", "mb")));
        Assert.Equal(1, Value(samples, "mcp_proxy_backend_up", ("backend", "mr")));
        Assert.Equal(0, Value(samples, "mcp_proxy_backend_restarts_total", ("backend", "mb")));
        Assert.Equal(1, Value(samples, "mcp_proxy_sessions_active", ("proxy", "metered")));
        Assert.True(Value(samples, "mcp_proxy_request_duration_seconds_count", ("backend", "mb")) >= 3);
        Assert.Contains(samples, s => s.Name == "mcp_proxy_request_duration_seconds_bucket" && s.Labels.GetValueOrDefault("le") == "+Inf");

        // ASP.NET Core's and HttpClient's own request metrics are exported too (their meters, not an instrumentation layer).
        Assert.Contains(samples, s => s.Name == "http_server_request_duration_seconds_count" && s.Labels.GetValueOrDefault("http_route") is not null);
        Assert.Contains(samples, s => s.Name == "http_client_request_duration_seconds_count");
        Assert.Contains(samples, s => s.Name == "kestrel_active_connections");
    }

    [Fact]
    public async Task Each_scrape_of_admin_metrics_shows_the_traffic_up_to_it_not_an_earlier_cached_answer()
    {
        // An SRE (or a test) that reads /admin/metrics right after a change sees the change: the Prometheus exporter's
        // default 300 ms response cache answered a scrape that followed another within that window with the older text.
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [proxy]
            name = "fresh-scrape"
            [observability.metrics]
            enabled = true

            """ + backend.Backend("fs"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        for (var calls = 1; calls <= 3; calls++)
        {
            await client.CallToolAsync("fs/echo", Message("m"), cancellationToken: Ct);
            Assert.Equal(calls, await PrometheusText.ScrapeAsync(http, "mcp_proxy_requests_total", ("backend", "fs"), ("method", "tools/call"), ("outcome", "ok")));
        }
    }

    [Fact]
    public async Task Admin_api_describes_backends_health_and_effective_config_without_secrets()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        var toml = $"""
            [observability]
            health_min_ready_percent = 60
            [auth]
            type = "bearer"
            tokens = ["auth-secret-0"]
            [security]
            admin_token = "admin-secret-3-abcdefgh"

            {backend.Backend("good", "[backends.circuit_breaker]\nminimum_calls = 5\n[backends.outlier_detection]\nconsecutive_errors = 3")}
            [[backends]]
            name = "down"
            transport = "http"
            url = "http://127.0.0.1:1/mcp"
            bearer_token = "bearer-secret-1"

            {TestPaths.SampleStdioBackend("local")}
            [backends.env]
            API_KEY = "env-secret-2"
            """;
        await using var proxy = await ProxyHost.StartAsync(toml);
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        Admin(http);

        var backends = (await http.GetFromJsonAsync<JsonArray>("/admin/backends", Ct))!.Select(b => b!.AsObject()).ToDictionary(b => (string)b["name"]!);
        Assert.Equal(["good", "down", "local"], backends.Keys);
        Assert.Equal("http", (string?)backends["good"]["transport"]);
        Assert.Equal("ready", (string?)backends["good"]["state"]);
        Assert.True((int)backends["good"]["tools"]! > 5);
        Assert.Equal("closed", (string?)backends["good"]["circuit"]!["state"]);
        Assert.Equal(false, (bool?)backends["good"]["ejection"]!["ejected"]);
        Assert.Equal("unavailable", (string?)backends["down"]["state"]);
        Assert.False(string.IsNullOrEmpty((string?)backends["down"]["last_error"] ?? (string?)backends["down"]["lastError"]));
        Assert.Equal("stdio", (string?)backends["local"]["transport"]);

        // 2 of 3 ready = 67% >= 60%: degraded but serving (200).
        using (var health = await http.GetAsync("/admin/health", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            var body = (await health.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.Equal("degraded", (string?)body["status"]);
            Assert.Equal(2, (int)body["ready"]!);
            Assert.Equal(3, (int)body["total"]!);
        }

        var config = await http.GetStringAsync("/admin/config", Ct);
        foreach (var secret in new[] { "auth-secret-0", "bearer-secret-1", "env-secret-2", "admin-secret-3-abcdefgh" })
        {
            Assert.DoesNotContain(secret, config, StringComparison.Ordinal);
        }

        var configJson = JsonNode.Parse(config)!;
        Assert.Equal("[redacted]", (string?)configJson["backends"]![1]!["bearer_token"]);
        Assert.Equal("[redacted]", (string?)configJson["backends"]![2]!["env"]!["API_KEY"]);
        Assert.Equal("http://127.0.0.1:1/mcp", (string?)configJson["backends"]![1]!["url"]);
        Assert.Equal(60, (double)configJson["observability"]!["health_min_ready_percent"]!);
    }

    [Fact]
    public async Task Admin_health_is_503_when_fewer_backends_than_the_threshold_are_ready()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            [observability]
            health_min_ready_percent = 100

            {backend.Backend("good")}
            [[backends]]
            name = "down"
            transport = "http"
            url = "http://127.0.0.1:1/mcp"
            """);
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        Admin(http);

        using var health = await http.GetAsync("/admin/health", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        var body = (await health.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal("unhealthy", (string?)body["status"]);
        Assert.Equal("unavailable", (string?)body["backends"]!["down"]);
    }

    /// <summary>The OpenTelemetry semantic conventions for MCP ("semconv"): the histograms' bucket boundaries, in seconds.</summary>
    private static readonly string[] SemconvEdges = ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5", "10", "30", "60", "120", "300", "+Inf"];

    [Fact]
    public async Task Metrics_follow_the_MCP_semantic_conventions_with_seconds_buckets_server_side_and_per_backend()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [observability.metrics]
            enabled = true

            """ + backend.Backend("sem"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        await client.CallToolAsync("sem/echo", Message("m"), cancellationToken: Ct);
        await client.CallToolAsync("sem/sleep", new Dictionary<string, object?> { ["ms"] = 150 }, cancellationToken: Ct);
        await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("sem/fail", Message("boom"), cancellationToken: Ct).AsTask());

        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        var samples = PrometheusText.Parse(await http.GetStringAsync("/admin/metrics", Ct));

        // The existing name keeps working, now with the semconv edges in seconds: the 150 ms call is not in le="0.1"
        // (before, every call landed in the first millisecond-sized bucket, le="5").
        Assert.Equal(SemconvEdges, Edges(samples, "mcp_proxy_request_duration_seconds_bucket", ("backend", "sem"), ("method", "tools/call")));
        Assert.Equal(3, Value(samples, "mcp_proxy_request_duration_seconds_count", ("backend", "sem")));
        Assert.True(Value(samples, "mcp_proxy_request_duration_seconds_bucket", ("backend", "sem"), ("le", "0.1")) <= 2);

        // mcp.client.operation.duration per backend request, with the proxy's backend attribute and the backend's tool name.
        const string clientOp = "mcp_client_operation_duration_seconds";
        Assert.Equal(SemconvEdges, Edges(samples, clientOp + "_bucket", ("mcp_proxy_backend", "sem"), ("gen_ai_tool_name", "echo")));
        Assert.Equal(1, Value(samples, clientOp + "_count", ("mcp_proxy_backend", "sem"), ("mcp_method_name", "tools/call"), ("gen_ai_tool_name", "echo"), ("network_transport", "tcp")));
        Assert.Equal(1, Value(samples, clientOp + "_count", ("mcp_proxy_backend", "sem"), ("gen_ai_tool_name", "sleep")));
        Assert.Equal(1, Value(samples, clientOp + "_count", ("mcp_proxy_backend", "sem"), ("gen_ai_tool_name", "fail"), ("error_type", "-32603")));
        Assert.Equal(0, Value(samples, clientOp + "_bucket", ("mcp_proxy_backend", "sem"), ("gen_ai_tool_name", "sleep"), ("le", "0.1")));
        // Only the proxy's own: the SDK's client histogram (no backend attribute) is not exported next to it.
        Assert.All(samples.Where(s => s.Name.StartsWith(clientOp, StringComparison.Ordinal)), s => Assert.True(s.Labels.ContainsKey("mcp_proxy_backend"), string.Join(",", s.Labels)));

        // mcp.server.operation.duration: the proxy's server side, with the tool name the client called.
        Assert.Equal(SemconvEdges, Edges(samples, "mcp_server_operation_duration_seconds_bucket", ("gen_ai_tool_name", "sem/echo")));
        Assert.Equal(1, Value(samples, "mcp_server_operation_duration_seconds_count", ("mcp_method_name", "tools/call"), ("gen_ai_tool_name", "sem/echo")));
    }

    [Fact]
    public async Task Admin_backends_counts_what_the_catalog_exposes_after_hide_and_expose_filters()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(
            backend.Backend("hid", """
                hide_tools = ["echo", "fail"]
                hide_prompts = ["*"]
                """)
            + backend.Backend("exp", """
                expose_tools = ["echo"]
                """));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var tools = await client.ListToolsAsync(cancellationToken: Ct);
        var prompts = await client.ListPromptsAsync(cancellationToken: Ct);
        var resources = await client.ListResourcesAsync(cancellationToken: Ct);

        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        var backends = (await http.GetFromJsonAsync<JsonArray>("/admin/backends", Ct))!.Select(b => b!.AsObject()).ToDictionary(b => (string)b["name"]!);
        foreach (var name in new[] { "hid", "exp" })
        {
            Assert.Equal(tools.Count(t => t.Name.StartsWith(name + "/", StringComparison.Ordinal)), (int)backends[name]["tools"]!);
            Assert.Equal(prompts.Count(p => p.Name.StartsWith(name + "/", StringComparison.Ordinal)), (int)backends[name]["prompts"]!);
            Assert.Equal(resources.Count(r => r.Uri.StartsWith(name + "/", StringComparison.Ordinal)), (int)backends[name]["resources"]!);
        }

        Assert.Equal(1, (int)backends["exp"]["tools"]!);
        Assert.Equal(0, (int)backends["hid"]["prompts"]!);
    }

    private static string[] Edges(List<PrometheusText.Sample> samples, string bucketName, params (string Key, string Value)[] labels)
    {
        var buckets = samples.Where(s => s.Name == bucketName && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).ToList();
        Assert.True(buckets.Count > 0, $"no sample {bucketName}{{{string.Join(",", labels.Select(l => $"{l.Key}={l.Value}"))}}}");
        return [.. buckets.Select(s => s.Labels["le"]).Distinct()];
    }

    private static Task<ProxyHost> AuditedProxyAsync(SampleHttpHost backend, string observabilityKey, CapturingLoggerProvider logs) =>
        ProxyHost.StartAsync($"""
            [observability]
            audit = true
            {observabilityKey}

            {backend.Backend("b")}
            """, logging: l => l.AddProvider(logs));

    /// <summary>
    /// Hook for admin credentials (the admin API is protected once auth is configured): the admin token, since a
    /// client token is not an admin credential.
    /// </summary>
    private static void Admin(HttpClient http) => http.DefaultRequestHeaders.Authorization = new("Bearer", "admin-secret-3-abcdefgh");

    private static double Value(List<PrometheusText.Sample> samples, string name, params (string Key, string Value)[] labels)
    {
        var matching = samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).ToList();
        Assert.True(matching.Count > 0, $"no sample {name}{{{string.Join(",", labels.Select(l => $"{l.Key}={l.Value}"))}}} in:\n{string.Join("\n", samples.Where(s => s.Name.StartsWith("mcp_proxy", StringComparison.Ordinal)).Select(s => $"{s.Name} {string.Join(",", s.Labels)} {s.Value}"))}");
        return matching.Sum(s => s.Value);
    }
}

/// <summary><c>[observability.tracing]</c>: spans exported over OTLP to the configured endpoint, with the configured service name.</summary>
public sealed class TracingExportTests
{
    [Fact]
    public async Task Proxied_calls_are_exported_as_spans_with_backend_and_tool_attributes()
    {
        var ct = TestContext.Timeout(60);
        await using var receiver = await OtlpTraceReceiver.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            [observability.tracing]
            enabled = true
            endpoint = "{receiver.Endpoint}"
            protocol = "http/protobuf"
            service_name = "edge-proxy"

            {backend.Backend("tb")}
            """, configure: b => b.Configuration["OTEL_BSP_SCHEDULE_DELAY"] = "100");
        await using var client = await proxy.ConnectAsync(cancellationToken: ct);

        // (A backend name of its own: the tracer listens to every proxy of the test process.)
        await client.CallToolAsync("tb/echo", new Dictionary<string, object?> { ["message"] = "traced" }, cancellationToken: ct);
        await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => client.CallToolAsync("tb/fail", new Dictionary<string, object?> { ["message"] = "x" }, cancellationToken: ct).AsTask());

        // Named "{mcp.method.name} {target}" (semconv); the proxy's span is the one with the backend attribute.
        var ok = await receiver.WaitForSpanAsync(s => s.Name == "tools/call tb/echo" && s.Attributes.GetValueOrDefault("mcp_proxy.item") == "tb/echo", ct);
        Assert.Equal("edge-proxy", ok.Service);
        Assert.Equal("tb", ok.Attributes["mcp_proxy.backend"]);
        Assert.Equal("ok", ok.Attributes["mcp_proxy.outcome"]);
        var failed = await receiver.WaitForSpanAsync(s => s.Name == "tools/call tb/fail" && s.Attributes.GetValueOrDefault("mcp_proxy.item") == "tb/fail", ct);
        Assert.Equal("error", failed.Attributes["mcp_proxy.outcome"]);

        // The MCP client span for the backend call is a child of the proxy's span, in the same trace.
        var backendCall = await receiver.WaitForSpanAsync(s => s.ParentSpanId == ok.SpanId, ct);
        Assert.Equal(ok.TraceId, backendCall.TraceId);
        Assert.Equal("tools/call echo", backendCall.Name);
    }

    [Fact]
    public async Task Spans_carry_the_MCP_semantic_convention_attributes()
    {
        var ct = TestContext.Timeout(60);
        await using var receiver = await OtlpTraceReceiver.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await TracedProxyAsync(receiver, backend.Backend("sc"));
        await using var client = await proxy.ConnectAsync(cancellationToken: ct);

        await client.CallToolAsync("sc/echo", new Dictionary<string, object?> { ["message"] = "traced" }, cancellationToken: ct);
        await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => client.CallToolAsync("sc/fail", new Dictionary<string, object?> { ["message"] = "x" }, cancellationToken: ct).AsTask());
        Assert.True((await client.CallToolAsync("sc/tool_error", new Dictionary<string, object?> { ["message"] = "x" }, cancellationToken: ct)).IsError);
        await client.GetPromptAsync("sc/greet", new Dictionary<string, object?> { ["name"] = "n" }, cancellationToken: ct);
        await client.ReadResourceAsync("sc/sample://info", cancellationToken: ct);

        var ok = await receiver.WaitForSpanAsync(s => s.Name == "tools/call sc/echo" && s.Attributes.ContainsKey("mcp_proxy.backend"), ct);
        Assert.Equal("tools/call", ok.Attributes["mcp.method.name"]);
        Assert.Equal("sc/echo", ok.Attributes["gen_ai.tool.name"]);
        Assert.Equal("tcp", ok.Attributes["network.transport"]);
        Assert.False(string.IsNullOrEmpty(ok.Attributes.GetValueOrDefault("mcp.protocol.version")));
        // The proxy's HTTP endpoint is session-based by default: the session id is on the span.
        Assert.False(string.IsNullOrEmpty(ok.Attributes.GetValueOrDefault("mcp.session.id")));
        Assert.Equal(client.SessionId, ok.Attributes["mcp.session.id"]);
        Assert.False(ok.Attributes.ContainsKey("error.type"));

        var failed = await receiver.WaitForSpanAsync(s => s.Name == "tools/call sc/fail" && s.Attributes.ContainsKey("mcp_proxy.backend"), ct);
        Assert.False(string.IsNullOrEmpty(failed.Attributes.GetValueOrDefault("error.type")));
        var toolError = await receiver.WaitForSpanAsync(s => s.Name == "tools/call sc/tool_error" && s.Attributes.ContainsKey("mcp_proxy.backend"), ct);
        Assert.Equal("tool_error", toolError.Attributes["error.type"]);

        var prompt = await receiver.WaitForSpanAsync(s => s.Name == "prompts/get sc/greet" && s.Attributes.ContainsKey("mcp_proxy.backend"), ct);
        Assert.Equal("sc/greet", prompt.Attributes["gen_ai.prompt.name"]);
        var resource = await receiver.WaitForSpanAsync(s => s.Name == "resources/read sc/sample://info" && s.Attributes.ContainsKey("mcp_proxy.backend"), ct);
        Assert.Equal("sc/sample://info", resource.Attributes["mcp.resource.uri"]);
    }

    [Fact]
    public async Task A_cached_calls_miss_stays_one_trace_with_the_backend_call_under_the_proxy_span()
    {
        var ct = TestContext.Timeout(60);
        await using var receiver = await OtlpTraceReceiver.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await TracedProxyAsync(receiver, backend.Backend("cm", """
            [backends.cache]
            tool_ttl_seconds = 60
            """));
        await using var client = await proxy.ConnectAsync(cancellationToken: ct);

        await client.CallToolAsync("cm/echo", new Dictionary<string, object?> { ["message"] = "miss" }, cancellationToken: ct);

        var call = await receiver.WaitForSpanAsync(s => s.Name == "tools/call cm/echo" && s.Attributes.ContainsKey("mcp_proxy.backend"), ct);
        var server = await receiver.WaitForSpanAsync(s => s.SpanId == call.ParentSpanId, ct);
        Assert.Equal("tools/call cm/echo", server.Name);
        // The MCP client span of the backend call on the miss: a child of the proxy's span, not a root of its own (the
        // backend's server span, exported too, is its child).
        var backendCall = await receiver.WaitForSpanAsync(s => s.Name == "tools/call echo" && s.ParentSpanId == call.SpanId, ct);
        Assert.Equal(call.TraceId, backendCall.TraceId);
        // No other span of that backend call in another trace. Scoped to this backend (the fast path's client span names
        // it): the receiver also gets the spans of tests running in parallel in this process.
        Assert.Equal("cm", backendCall.Attributes.GetValueOrDefault("mcp_proxy.backend"));
        Assert.DoesNotContain(receiver.Spans, s => s.Name == "tools/call echo" && s.Attributes.GetValueOrDefault("mcp_proxy.backend") == "cm" && s.TraceId != call.TraceId);
    }

    private static Task<ProxyHost> TracedProxyAsync(OtlpTraceReceiver receiver, string backends) =>
        ProxyHost.StartAsync($"""
            [observability.tracing]
            enabled = true
            endpoint = "{receiver.Endpoint}"
            protocol = "http/protobuf"

            {backends}
            """, configure: b => b.Configuration["OTEL_BSP_SCHEDULE_DELAY"] = "100");
}
