using System.Net;
using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Sessions;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static McpProxy.Tests.Eras.ModernHttp;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.FastPath;

/// <summary>
/// Issue 16 item 2 for the legacy era: a legacy session's <c>tools/call</c>, <c>prompts/get</c> and <c>resources/read</c>
/// to a modern HTTP backend are routed by the body's <c>method</c> and <c>params.name</c>/<c>uri</c> and take the fast
/// path (counted in <c>fastPathCalls</c>); the caller sees what the typed path gives it. Each scenario runs the same
/// request on a session of each of two proxies in front of one backend, the fast path on and off.
/// </summary>
public sealed class LegacyFastPathTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"b/echo","arguments":{"message":"héllo \"quoted\""}}}""", "")]
    [InlineData("""{"jsonrpc":"2.0","id":"s-41","method":"tools/call","params":{"name":"b/tool_error","arguments":{}}}""", "")]
    [InlineData("""{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"b/fail","arguments":{}}}""", "")]
    [InlineData("""{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"b/echo","arguments":{"message":"m"},"_meta":{"app/trace":"t-1"}}}""", "")]
    [InlineData("""{"jsonrpc":"2.0","id":41,"method":"prompts/get","params":{"name":"b/greet","arguments":{"name":"Ada"}}}""", "")]
    [InlineData("""{"jsonrpc":"2.0","id":41,"method":"resources/read","params":{"uri":"b/sample://info"}}""", "")]
    [InlineData("""{"jsonrpc":"2.0","id":41,"method":"resources/read","params":{"uri":"b/sample://nothing"}}""", "")]
    [InlineData("""{"jsonrpc":"2.0","id":41,"method":"resources/read","params":{"uri":"b/sample://items/7"}}""", "[backends.cache]\nresource_ttl_seconds = 60")]
    [InlineData("""{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"b/sleep","arguments":{"ms":5000}}}""", "[backends.timeout]\nseconds = 0.3")]
    [InlineData("""{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"b/large","arguments":{"size_kb":64}}}""", "")]
    public async Task A_legacy_session_s_call_is_answered_on_the_fast_path_as_on_the_typed_path(string request, string extra)
    {
        await using var pair = await LegacyPair.StartAsync(extra);

        var (fast, typed) = await pair.BothAsync(request);

        Assert.Equal(typed.Status, fast.Status);
        Assert.True(JsonNode.DeepEquals(Strip(typed.Final), Strip(fast.Final)), $"fast: {fast.Final.ToJsonString()}\ntyped: {typed.Final.ToJsonString()}");
        Assert.Equal(1, pair.FastPathCalls(pair.Fast));
        Assert.Equal(0, pair.FastPathCalls(pair.Typed));
    }

    [Fact]
    public async Task The_sdk_client_pinned_to_2025_11_25_gets_its_calls_answered_on_the_fast_path()
    {
        // Its requests carry Mcp-Method/Mcp-Name as well (checked against the body, as for a modern call).
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        await using var client = await proxy.ConnectAsync(new ModelContextProtocol.Client.McpClientOptions { ProtocolVersion = "2025-11-25" }, Ct);

        var result = await client.CallToolAsync("b/echo", Message("through the sdk"), cancellationToken: Ct);
        Assert.Equal("through the sdk", Text(result));
        var read = await client.ReadResourceAsync("b/sample://info", cancellationToken: Ct);
        Assert.Equal("b/sample://info", read.Contents.Single().Uri);
        var prompt = await client.GetPromptAsync("b/greet", new Dictionary<string, object?> { ["name"] = "Ada" }, cancellationToken: Ct);
        Assert.Contains("Ada", ((ModelContextProtocol.Protocol.TextContentBlock)prompt.Messages.Single().Content).Text, StringComparison.Ordinal);
        Assert.Equal("2025-11-25", client.NegotiatedProtocolVersion);
        Assert.Equal(3, proxy.Services.GetRequiredService<BackendRegistry>().Backends.Single().FastPathCalls);
    }

    [Fact]
    public async Task Log_lines_the_backend_sends_during_the_call_reach_the_session_before_its_result_at_its_level()
    {
        await using var pair = await LegacyPair.StartAsync();
        const string Call = """{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"b/notify","arguments":{"log_count":3,"log_level":"warning","log_message":"hello"}}}""";

        var (fast, typed) = await pair.BothAsync(Call);

        Assert.Equal(1, pair.FastPathCalls(pair.Fast));
        string[] Lines(Reply reply) => [.. reply.Notifications("notifications/message").Select(n => n["params"]!.ToJsonString())];
        Assert.True(Lines(typed).Length == 3, string.Join("\n", typed.Messages.Select(m => m.ToJsonString())) + "\nfast:\n" + string.Join("\n", fast.Messages.Select(m => m.ToJsonString())));
        Assert.Equal(Lines(typed), Lines(fast));
        Assert.True(JsonNode.DeepEquals(Strip(typed.Final), Strip(fast.Final)), $"fast: {fast.Final.ToJsonString()}\ntyped: {typed.Final.ToJsonString()}");
        Assert.Equal("b/sample", (string?)fast.Notifications("notifications/message").First()["params"]!["logger"]); // the backend's logger, namespaced

        // A session that asked for errors only gets none of these info lines, on either path.
        foreach (var (proxy, session) in new[] { (pair.Fast, pair.FastSession), (pair.Typed, pair.TypedSession) })
        {
            await Send(pair.Http, proxy, session, """{"jsonrpc":"2.0","id":6,"method":"logging/setLevel","params":{"level":"error"}}""");
            var quiet = await Send(pair.Http, proxy, session, Call.Replace("\"id\":5", "\"id\":7", StringComparison.Ordinal));
            Assert.Empty(quiet.Notifications("notifications/message"));
            Assert.NotNull(quiet.Result["content"]);
        }

        Assert.Equal(2, pair.FastPathCalls(pair.Fast));
    }

    [Fact]
    public async Task What_needs_the_sdk_s_session_takes_the_typed_path()
    {
        await using var pair = await LegacyPair.StartAsync();

        // A progress token, an unknown tool, and an unknown session: the SDK answers them, the same on both proxies.
        string[] requests =
        [
            """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b/echo","arguments":{"message":"x"},"_meta":{"progressToken":"p"}}}""",
            """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"b/nope","arguments":{}}}""",
        ];
        foreach (var request in requests)
        {
            var (fast, typed) = await pair.BothAsync(request);
            Assert.Equal(typed.Status, fast.Status);
            Assert.True(JsonNode.DeepEquals(Strip(typed.Final), Strip(fast.Final)), $"fast: {fast.Final.ToJsonString()}\ntyped: {typed.Final.ToJsonString()}");
        }

        using var unknown = await pair.Http.SendAsync(SessionPost(pair.Fast.McpEndpoint, "no-such-session", requests[0]), Ct);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(0, pair.FastPathCalls(pair.Fast));
    }

    [Fact]
    public async Task A_session_its_owner_deleted_gets_no_more_answers()
    {
        await using var pair = await LegacyPair.StartAsync();
        const string Call = """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b/echo","arguments":{"message":"x"}}}""";
        Assert.Equal("x", (string?)(await Send(pair.Http, pair.Fast, pair.FastSession, Call)).Result["content"]![0]!["text"]);
        Assert.Equal(1, pair.FastPathCalls(pair.Fast));

        using var delete = new HttpRequestMessage(HttpMethod.Delete, pair.Fast.McpEndpoint);
        delete.Headers.Add("Mcp-Session-Id", pair.FastSession);
        delete.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        using (var deleted = await pair.Http.SendAsync(delete, Ct))
        {
            Assert.True(deleted.IsSuccessStatusCode, deleted.StatusCode.ToString());
        }

        using var after = await pair.Http.SendAsync(SessionPost(pair.Fast.McpEndpoint, pair.FastSession, Call), Ct);
        Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
        Assert.Equal(1, pair.FastPathCalls(pair.Fast));
    }

    [Fact]
    public async Task Notifications_cancelled_cancels_a_call_the_fast_path_carries()
    {
        await using var pair = await LegacyPair.StartAsync();
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var call = pair.Http.SendAsync(
            SessionPost(pair.Fast.McpEndpoint, pair.FastSession, """{"jsonrpc":"2.0","id":"long-1","method":"tools/call","params":{"name":"b/sleep","arguments":{"ms":60000}}}"""),
            HttpCompletionOption.ResponseHeadersRead, caller.Token);
        await WaitUntil(() => pair.FastPathCalls(pair.Fast) == 1 && pair.Backend.ToolCalls == 1);

        using (var cancel = await pair.Http.SendAsync(SessionPost(pair.Fast.McpEndpoint, pair.FastSession,
            """{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"long-1","reason":"user"}}"""), Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }

        // The backend's call was closed (a modern backend's cancel) long before the tool's minute was up. The caller gets
        // no answer: as the SDK does for a cancelled request, its response stays open until the caller leaves it.
        await WaitUntil(() => pair.Backend.Cancellations == 1);
        Assert.False(call.IsCompleted);
        await caller.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task A_session_busy_on_the_fast_path_is_not_closed_as_idle_and_an_idle_one_still_is()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(
            $"""
            [proxy]
            name = "test-proxy"
            [proxy.listen]
            port = 0
            [proxy.sessions]
            idle_timeout_seconds = 60

            {backend.Backend("b")}
            """,
            configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));
        var limiter = proxy.Services.GetRequiredService<SessionLimiter>();
        using var http = new HttpClient();
        var session = await OpenRawSessionAsync(http, proxy.McpEndpoint, Ct);
        const string Call = """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b/echo","arguments":{"message":"x"}}}""";

        // Three idle timeouts of calls every 2 s (the SDK checks every 5 s of the clock): the session stays open, and most
        // calls are the fast path's (one in every 6 s at most is the SDK's own: 60 s / 10).
        for (var i = 0; i < 90; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(2));
            var reply = await Send(http, proxy, session, Call);
            Assert.Equal("x", (string?)reply.Result["content"]![0]!["text"]);
        }

        Assert.Equal(1, limiter.Count);
        var fast = proxy.Services.GetRequiredService<BackendRegistry>().Backends.Single().FastPathCalls;
        Assert.InRange(fast, 55, 89);

        // Then idle: closed after the timeout, its id gone.
        await WaitUntil(() =>
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            return limiter.Count == 0;
        });
        using var after = await http.SendAsync(SessionPost(proxy.McpEndpoint, session, Call), Ct);
        Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
    }

    private static async Task<Reply> Send(HttpClient http, ProxyHost proxy, string session, string json) =>
        await SendAsync(http, SessionPost(proxy.McpEndpoint, session, json), Ct);

    private static JsonNode Strip(JsonObject message) => FastPathTests.Strip(message);

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    /// <summary>One backend, two proxies in front of it (the fast path on and off), and a legacy session on each.</summary>
    private sealed class LegacyPair : IAsyncDisposable
    {
        private LegacyPair(SampleHttpHost backend, ProxyHost fast, ProxyHost typed, string fastSession, string typedSession, HttpClient http)
        {
            Backend = backend;
            Fast = fast;
            Typed = typed;
            FastSession = fastSession;
            TypedSession = typedSession;
            Http = http;
        }

        public SampleHttpHost Backend { get; }
        public ProxyHost Fast { get; }
        public ProxyHost Typed { get; }
        public string FastSession { get; }
        public string TypedSession { get; }
        public HttpClient Http { get; }

        public static async Task<LegacyPair> StartAsync(string extra = "", string backendArgs = "")
        {
            var backend = await SampleHttpHost.StartAsync(backendArgs.Length == 0 ? [] : [backendArgs]);
            var fast = await ProxyHost.StartAsync(backend.Backend("b", extra));
            var typed = await ProxyHost.StartAsync(backend.Backend("b", "fast_path = false\n" + extra));
            var http = new HttpClient();
            return new LegacyPair(backend, fast, typed, await OpenRawSessionAsync(http, fast.McpEndpoint, Ct), await OpenRawSessionAsync(http, typed.McpEndpoint, Ct), http);
        }

        public long FastPathCalls(ProxyHost proxy) =>
            proxy.Services.GetRequiredService<BackendRegistry>().Backends.Single(b => b.Name == "b").FastPathCalls;

        /// <summary>The same request on both proxies' sessions (the typed one first: a tool that counts calls counts it once each).</summary>
        public async Task<(Reply Fast, Reply Typed)> BothAsync(string json)
        {
            var typed = await Send(Http, Typed, TypedSession, json);
            var fast = await Send(Http, Fast, FastSession, json);
            return (fast, typed);
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Fast.DisposeAsync();
            await Typed.DisposeAsync();
            await Backend.DisposeAsync();
        }
    }
}

