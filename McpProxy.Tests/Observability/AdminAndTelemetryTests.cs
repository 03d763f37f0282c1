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
        var samples = ParsePrometheus(text);

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

    private sealed record Sample(string Name, Dictionary<string, string> Labels, double Value);

    private static List<Sample> ParsePrometheus(string text)
    {
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.LastIndexOf(' ');
            var valueText = line[(space + 1)..];
            string name;
            var labels = new Dictionary<string, string>();
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                var end = line.LastIndexOf('}');
                foreach (var pair in line[(brace + 1)..end].Split("\",", StringSplitOptions.RemoveEmptyEntries))
                {
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    labels[pair[..eq]] = pair[(eq + 1)..].Trim('"');
                }

                valueText = line[(end + 1)..].Trim().Split(' ')[0];
            }
            else
            {
                name = line[..line.IndexOf(' ', StringComparison.Ordinal)];
                valueText = line[(name.Length + 1)..].Trim().Split(' ')[0];
            }

            samples.Add(new Sample(name, labels, double.Parse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture)));
        }

        return samples;
    }

    private static double Value(List<Sample> samples, string name, params (string Key, string Value)[] labels)
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

        var ok = await receiver.WaitForSpanAsync(s => s.Name == "proxy tools/call" && s.Attributes.GetValueOrDefault("mcp_proxy.item") == "tb/echo", ct);
        Assert.Equal("edge-proxy", ok.Service);
        Assert.Equal("tb", ok.Attributes["mcp_proxy.backend"]);
        Assert.Equal("ok", ok.Attributes["mcp_proxy.outcome"]);
        var failed = await receiver.WaitForSpanAsync(s => s.Name == "proxy tools/call" && s.Attributes.GetValueOrDefault("mcp_proxy.item") == "tb/fail", ct);
        Assert.Equal("error", failed.Attributes["mcp_proxy.outcome"]);

        // The MCP client span for the backend call is a child of the proxy's span, in the same trace.
        var backendCall = await receiver.WaitForSpanAsync(s => s.ParentSpanId == ok.SpanId, ct);
        Assert.Equal(ok.TraceId, backendCall.TraceId);
        Assert.Equal("tools/call echo", backendCall.Name);
    }
}
