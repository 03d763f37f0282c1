using System.Net;
using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Mirroring;
using McpProxy.Tests.Eras;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static McpProxy.Tests.Eras.ModernHttp;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.FastPath;

/// <summary>
/// Issue 16 item 2: a 2026-07-28 caller's <c>tools/call</c>, <c>prompts/get</c> and <c>resources/read</c> to a modern
/// HTTP backend take the fast path (counted in <c>/admin/backends</c> <c>fastPathCalls</c>), and the caller sees exactly
/// what the typed path gives: each scenario runs the same request through two proxies in front of one backend, one with
/// the fast path (the default) and one with <c>fast_path = false</c>, and compares the answers.
/// </summary>
public sealed class FastPathTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    [Theory]
    [InlineData("tools/call", "b/echo", """{"name":"b/echo","arguments":{"message":"héllo \"quoted\""}}""", "")]
    [InlineData("tools/call", "b/tool_error", """{"name":"b/tool_error","arguments":{}}""", "")]
    [InlineData("tools/call", "b/fail", """{"name":"b/fail","arguments":{}}""", "")]
    [InlineData("tools/call", "b/echo", """{"name":"b/echo","arguments":{"message":"m"},"_meta":{"app/trace":"t-1"}}""", "")]
    [InlineData("prompts/get", "b/greet", """{"name":"b/greet","arguments":{"name":"Ada"}}""", "")]
    [InlineData("resources/read", "b/sample://info", """{"uri":"b/sample://info"}""", "")]
    [InlineData("resources/read", "b/sample://nothing", """{"uri":"b/sample://nothing"}""", "")]
    [InlineData("resources/read", "b/sample://items/7", """{"uri":"b/sample://items/7"}""", "[backends.cache]\nresource_ttl_seconds = 60")]
    [InlineData("tools/call", "b/sleep", """{"name":"b/sleep","arguments":{"ms":5000}}""", "[backends.timeout]\nseconds = 0.3")]
    [InlineData("tools/call", "b/large", """{"name":"b/large","arguments":{"size_kb":64}}""", "")]
    public async Task The_fast_path_answers_exactly_what_the_typed_path_answers(string method, string name, string parameters, string extra)
    {
        await using var pair = await Pair.StartAsync(extra);

        var (fast, typed) = await pair.BothAsync(method, name, JsonNode.Parse(parameters)!.AsObject());

        Assert.Equal(typed.Status, fast.Status);
        Assert.True(JsonNode.DeepEquals(Strip(typed.Final), Strip(fast.Final)), $"fast: {fast.Final.ToJsonString()}\ntyped: {typed.Final.ToJsonString()}");
        Assert.Equal(1, pair.FastPathCalls(pair.Fast));
        Assert.Equal(0, pair.FastPathCalls(pair.Typed));
    }

    [Fact]
    public async Task A_result_larger_than_max_result_size_is_refused_on_the_fast_path_as_on_the_typed_path()
    {
        await using var pair = await Pair.StartAsync(proxyToml: "[security]\nmax_result_size = 20000\n");

        var (fast, typed) = await pair.BothAsync("tools/call", "b/large", new JsonObject { ["name"] = "b/large", ["arguments"] = new JsonObject { ["size_kb"] = 64 } });

        Assert.Equal(typed.ErrorCode, fast.ErrorCode);
        Assert.Equal((string?)typed.Final["error"]!["message"], (string?)fast.Final["error"]!["message"]);
        Assert.Contains("20000", (string?)fast.Final["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal(1, pair.FastPathCalls(pair.Fast));
    }

    [Fact]
    public async Task Calls_the_typed_path_must_answer_are_not_taken_and_say_the_same()
    {
        await using var pair = await Pair.StartAsync();

        // An unknown item, a name header that does not match the body, a progress token, a Multi Round-Trip retry.
        (string Method, string Name, JsonObject Params, string? HeaderName)[] cases =
        [
            ("tools/call", "b/nope", new JsonObject { ["name"] = "b/nope", ["arguments"] = new JsonObject() }, null),
            ("tools/call", "b/echo", new JsonObject { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = "x" } }, "b/add"),
            ("tools/call", "b/echo", new JsonObject { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = "x" }, ["_meta"] = new JsonObject { ["progressToken"] = "p" } }, null),
            ("tools/call", "b/echo", new JsonObject { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = "x" }, ["requestState"] = "forged" }, null),
        ];
        foreach (var (method, name, parameters, header) in cases)
        {
            var (fast, typed) = await pair.BothAsync(method, header ?? name, parameters);
            Assert.Equal(typed.Status, fast.Status);
            Assert.True(JsonNode.DeepEquals(Strip(typed.Final), Strip(fast.Final)), $"fast: {fast.Final.ToJsonString()}\ntyped: {typed.Final.ToJsonString()}");
        }

        Assert.Equal(0, pair.FastPathCalls(pair.Fast));
    }

    [Fact]
    public async Task Argument_injection_for_a_tool_keeps_its_calls_on_the_typed_path_and_other_tools_fast()
    {
        await using var pair = await Pair.StartAsync("""
            [[backends.inject_args]]
            tool = "echo_args"
            args = { tenant = "acme" }
            """);
        using var http = new HttpClient();

        var injected = await PostAsync(http, pair.Fast.McpEndpoint, "tools/call", new JsonObject { ["name"] = "b/echo_args", ["arguments"] = new JsonObject { ["a"] = 1 } }, "b/echo_args", Ct);
        Assert.Contains("\"tenant\":\"acme\"", Text(injected.Result), StringComparison.Ordinal);
        Assert.Equal(0, pair.FastPathCalls(pair.Fast));

        var plain = await PostAsync(http, pair.Fast.McpEndpoint, "tools/call", new JsonObject { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = "x" } }, "b/echo", Ct);
        Assert.Equal("x", Text(plain.Result));
        Assert.Equal(1, pair.FastPathCalls(pair.Fast));
    }

    [Fact]
    public async Task The_cache_answers_fast_path_calls_from_one_backend_call()
    {
        await using var pair = await Pair.StartAsync("""
            [backends.cache]
            tool_ttl_seconds = 60
            cache_tools = ["echo"]
            """);
        using var http = new HttpClient();

        for (var i = 0; i < 3; i++)
        {
            var reply = await PostAsync(http, pair.Fast.McpEndpoint, "tools/call", new JsonObject { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = "cached" } }, "b/echo", Ct);
            Assert.Equal("cached", Text(reply.Result));
        }

        Assert.Equal(1, pair.Backend.ToolCalls);
        Assert.Equal(1, pair.FastPathCalls(pair.Fast));
    }

    [Fact]
    public async Task The_rate_limit_and_the_mirror_apply_to_fast_path_calls()
    {
        await using var mirror = await SampleHttpHost.StartAsync();
        await using var pair = await Pair.StartAsync("""
            [backends.rate_limit]
            requests = 2
            period_seconds = 600
            """, mirrorToml: mirror.Backend("m", "mirror_of = \"b\""));
        using var http = new HttpClient();

        var outcomes = new List<ModernHttp.Reply>();
        for (var i = 0; i < 3; i++)
        {
            outcomes.Add(await PostAsync(http, pair.Fast.McpEndpoint, "tools/call", new JsonObject { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = $"m{i}" } }, "b/echo", Ct));
        }

        Assert.Equal("m0", Text(outcomes[0].Result));
        Assert.Equal("m1", Text(outcomes[1].Result));
        Assert.Contains("rate limit exceeded", (string?)outcomes[2].Final["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal(2, pair.Backend.ToolCalls);
        Assert.Equal(2, pair.FastPathCalls(pair.Fast));
        var traffic = pair.Fast.Services.GetRequiredService<TrafficMirror>();
        await WaitUntil(() => traffic.Sent >= 2 && mirror.ToolCalls == traffic.Sent);
    }

    [Fact]
    public async Task Closing_the_stream_of_a_fast_path_call_cancels_the_backend_call()
    {
        await using var pair = await Pair.StartAsync();
        using var http = new HttpClient();
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var call = PostAsync(http, pair.Fast.McpEndpoint, "tools/call", new JsonObject { ["name"] = "b/sleep", ["arguments"] = new JsonObject { ["ms"] = 60_000 } }, "b/sleep", abort.Token);
        await WaitUntil(() => pair.FastPathCalls(pair.Fast) == 1 && pair.Backend.ToolCalls == 1);
        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        await WaitUntil(() => pair.Backend.Cancellations == 1);
    }

    [Fact]
    public async Task Fast_path_false_and_a_legacy_backend_keep_every_call_on_the_typed_path()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("off", "fast_path = false") + backend.Backend("legacy", "protocol = \"2025-11-25\""));
        using var http = new HttpClient();

        foreach (var name in new[] { "off/echo", "legacy/echo" })
        {
            var reply = await PostAsync(http, proxy.McpEndpoint, "tools/call", new JsonObject { ["name"] = name, ["arguments"] = new JsonObject { ["message"] = name } }, name, Ct);
            Assert.Equal(name, Text(reply.Result));
        }

        var registry = proxy.Services.GetRequiredService<BackendRegistry>();
        Assert.All(registry.Backends, b => Assert.Equal(0, b.FastPathCalls));
        Assert.All(registry.Backends, b => Assert.Null(b.FastWire));
    }

    [Fact]
    public async Task The_sdk_client_on_2026_07_28_gets_its_calls_answered_on_the_fast_path()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        await using var client = await proxy.ConnectAsync(new ModelContextProtocol.Client.McpClientOptions { ProtocolVersion = "2026-07-28" }, Ct);

        var result = await client.CallToolAsync("b/echo", Message("through the sdk"), cancellationToken: Ct);
        Assert.Equal("through the sdk", TestCalls.Text(result));
        var read = await client.ReadResourceAsync("b/sample://info", cancellationToken: Ct);
        Assert.Equal("b/sample://info", read.Contents.Single().Uri);
        var prompt = await client.GetPromptAsync("b/greet", new Dictionary<string, object?> { ["name"] = "Ada" }, cancellationToken: Ct);
        Assert.Contains("Ada", ((ModelContextProtocol.Protocol.TextContentBlock)prompt.Messages.Single().Content).Text, StringComparison.Ordinal);
        Assert.Equal(3, proxy.Services.GetRequiredService<BackendRegistry>().Backends.Single().FastPathCalls);
    }

    [Fact]
    public async Task The_caller_s_trace_context_reaches_the_backend_on_the_fast_path_as_on_the_typed_path()
    {
        // The proxy records no spans here (no trace exporter): it passes the caller's trace on, both paths alike — the
        // fast path writes the W3C header itself (its pool does not propagate by itself).
        await using var pair = await Pair.StartAsync();
        const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        var received = new List<string?>();
        foreach (var proxy in new[] { pair.Typed, pair.Fast })
        {
            // No activity propagation on the caller's side: a tracer provider that another test builds in this process
            // instruments every HttpClient here, and OpenTelemetry's HttpClient instrumentation would overwrite this
            // request's traceparent with a trace of its own (that is what the proxy then rightly passed on).
            using var http = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null });
            var parameters = new JsonObject { ["name"] = "b/whoami", ["arguments"] = new JsonObject() };
            using var request = Request(proxy.McpEndpoint, "tools/call", parameters, "b/whoami", id: 7);
            request.Headers.TryAddWithoutValidation("traceparent", $"00-{TraceId}-00f067aa0ba902b7-01");
            var reply = await SendAsync(http, request, Ct);
            var whoami = JsonNode.Parse(Text(reply.Result))!;
            received.Add((string?)whoami["traceparent"]);
        }

        Assert.All(received, traceparent => Assert.StartsWith($"00-{TraceId}-", traceparent, StringComparison.Ordinal));
        Assert.Equal(1, pair.FastPathCalls(pair.Fast));
    }

    /// <summary>What the caller sees of an answer, without the JSON-RPC envelope's ordering.</summary>
    internal static JsonNode Strip(JsonObject message)
    {
        var copy = message.DeepClone().AsObject();
        copy.Remove("jsonrpc");
        return copy;
    }

    private static string Text(JsonObject result) => (string?)result["content"]![0]!["text"] ?? "";

    /// <summary>One backend, two proxies in front of it: the fast path on (the default) and off.</summary>
    private sealed class Pair : IAsyncDisposable
    {
        private readonly HttpClient _http = new();

        private Pair(SampleHttpHost backend, ProxyHost fast, ProxyHost typed)
        {
            Backend = backend;
            Fast = fast;
            Typed = typed;
        }

        public SampleHttpHost Backend { get; }
        public ProxyHost Fast { get; }
        public ProxyHost Typed { get; }

        public static async Task<Pair> StartAsync(string extra = "", string proxyToml = "", string mirrorToml = "")
        {
            var backend = await SampleHttpHost.StartAsync();
            var fast = await ProxyHost.StartAsync(proxyToml + backend.Backend("b", extra) + mirrorToml);
            var typed = await ProxyHost.StartAsync(proxyToml + backend.Backend("b", "fast_path = false\n" + extra));
            return new Pair(backend, fast, typed);
        }

        public long FastPathCalls(ProxyHost proxy) =>
            proxy.Services.GetRequiredService<BackendRegistry>().Backends.Single(b => b.Name == "b").FastPathCalls;

        /// <summary>The same request to both proxies (the typed one first: a tool that counts calls counts it once each).</summary>
        public async Task<(ModernHttp.Reply Fast, ModernHttp.Reply Typed)> BothAsync(string method, string name, JsonObject parameters)
        {
            var typed = await SendAsync(_http, Request(Typed.McpEndpoint, method, (JsonObject)parameters.DeepClone(), name, id: 41), Ct);
            var fast = await SendAsync(_http, Request(Fast.McpEndpoint, method, (JsonObject)parameters.DeepClone(), name, id: 41), Ct);
            return (fast, typed);
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await Fast.DisposeAsync();
            await Typed.DisposeAsync();
            await Backend.DisposeAsync();
        }
    }
}
