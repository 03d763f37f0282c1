using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Mrtr;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Mrtr;

/// <summary>
/// Multi Round-Trip Requests through the proxy, in the four combinations of client era and backend era (issue 15 item
/// 3): a modern backend's <c>input_required</c> passes through (state sealed), a legacy backend's server→client request
/// is bridged into <c>input_required</c> and the retry completes it, and a legacy client keeps getting real requests.
/// Modern backend: the sample in <c>--conformance</c> mode over HTTP; legacy backend: <c>server-everything</c> over stdio.
/// </summary>
public sealed class MrtrBridgeTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private static string Everything => TestPaths.EverythingStdioBackend("e");

    private static JsonObject Result(JsonObject response) =>
        response["result"] as JsonObject ?? throw new Xunit.Sdk.XunitException($"expected a result, got {response.ToJsonString()}");

    private static (int Code, string Message) Error(JsonObject response) =>
        response["error"] is JsonObject e
            ? (e["code"]!.GetValue<int>(), e["message"]!.GetValue<string>())
            : throw new Xunit.Sdk.XunitException($"expected an error, got {response.ToJsonString()}");

    private static string Text(JsonObject result) =>
        string.Join("\n", result["content"]!.AsArray().Select(c => c?["text"]?.GetValue<string>()));

    private static (string Key, JsonObject Request, string State) InputRequired(JsonObject response)
    {
        var result = Result(response);
        Assert.Equal("input_required", result["resultType"]?.GetValue<string>());
        var (key, request) = Assert.Single(result["inputRequests"]!.AsObject());
        var state = result["requestState"]!.GetValue<string>();
        Assert.StartsWith(RequestStateProtector.Prefix, state, StringComparison.Ordinal);
        return (key, request!.AsObject(), state);
    }

    private static JsonObject Answer(string key, JsonObject value) => new() { [key] = value };


    private static JsonObject Accept(string field, JsonNode value) =>
        new() { ["action"] = "accept", ["content"] = new JsonObject { [field] = value } };

    // ------------------------------------------------------------------ modern client ↔ modern backend

    [Fact]
    public async Task Modern_backend_input_required_passes_through_with_the_state_sealed_and_the_retry_completes()
    {
        await using var backend = await SampleHttpHost.StartAsync("--conformance");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("s"));
        using var client = new ModernClient(proxy.McpEndpoint);

        // The backend's own signed state travels inside the proxy's sealed one and comes back to it unchanged.
        var (key, request, state) = InputRequired(await client.CallToolAsync("s/test_input_required_result_request_state", cancellationToken: Ct));
        Assert.Equal("confirm", key);
        Assert.Equal("elicitation/create", request["method"]!.GetValue<string>());
        var done = await client.CallToolAsync("s/test_input_required_result_request_state", Answer("confirm", Accept("ok", true)), state, cancellationToken: Ct);
        Assert.Equal("state-ok", Text(Result(done)));

        // Three rounds, each with a fresh state.
        var (k1, _, s1) = InputRequired(await client.CallToolAsync("s/test_input_required_result_multi_round", cancellationToken: Ct));
        var (k2, _, s2) = InputRequired(await client.CallToolAsync("s/test_input_required_result_multi_round", Answer(k1, Accept("name", "Ada")), s1, cancellationToken: Ct));
        Assert.Equal("step2", k2);
        Assert.NotEqual(s1, s2);
        var last = await client.CallToolAsync("s/test_input_required_result_multi_round", Answer(k2, Accept("color", "blue")), s2, cancellationToken: Ct);
        Assert.Equal("multi-round-ok", Text(Result(last)));

        // Not only tools: prompts/get too.
        var prompt = await client.GetPromptAsync("s/test_input_required_result_prompt", cancellationToken: Ct);
        var (pk, _, ps) = InputRequired(prompt);
        var got = Result(await client.GetPromptAsync("s/test_input_required_result_prompt", Answer(pk, Accept("context", "proxied")), ps, Ct));
        Assert.Contains("Prompt with context: proxied", got.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_retry_result_is_never_cached_for_the_next_fresh_call()
    {
        await using var backend = await SampleHttpHost.StartAsync("--conformance");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("s", "[backends.cache]\ntool_ttl_seconds = 60\ncache_tools = [\"test_*\"]"));
        using var client = new ModernClient(proxy.McpEndpoint);

        var (key, _, state) = InputRequired(await client.CallToolAsync("s/test_input_required_result_elicitation", cancellationToken: Ct));
        Assert.Equal("user_name", key);
        var done = await client.CallToolAsync("s/test_input_required_result_elicitation", Answer(key, Accept("name", "Ada")), state, cancellationToken: Ct);
        Assert.Equal("Hello, Ada!", Text(Result(done)));

        // The same call afresh asks again: the answer to the retry was not cached under the call's arguments.
        var (againKey, _, _) = InputRequired(await client.CallToolAsync("s/test_input_required_result_elicitation", cancellationToken: Ct));
        Assert.Equal("user_name", againKey); // the backend's own key: passed through
    }

    [Fact]
    public async Task A_tampered_state_is_refused_by_the_proxy_and_never_reaches_the_backend()
    {
        await using var backend = await SampleHttpHost.StartAsync("--conformance");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("s"));
        using var client = new ModernClient(proxy.McpEndpoint);
        var (key, _, state) = InputRequired(await client.CallToolAsync("s/test_input_required_result_tampered_state", cancellationToken: Ct));
        var calls = backend.ToolCalls;

        var chars = state.ToCharArray();
        chars[^5] = chars[^5] == 'x' ? 'y' : 'x';
        var (code, message) = Error(await client.CallToolAsync("s/test_input_required_result_tampered_state", Answer(key, Accept("ok", true)), new string(chars), cancellationToken: Ct));
        Assert.Equal(-32602, code);
        Assert.Contains("Invalid requestState", message, StringComparison.Ordinal);
        Assert.Equal(calls, backend.ToolCalls);

        // A state issued for one tool does not open another's call.
        var (otherCode, _) = Error(await client.CallToolAsync("s/test_input_required_result_request_state", Answer("confirm", Accept("ok", true)), state, cancellationToken: Ct));
        Assert.Equal(-32602, otherCode);
    }

    [Fact]
    public async Task Another_callers_replay_is_refused()
    {
        await using var backend = await SampleHttpHost.StartAsync("--conformance");
        await using var proxy = await ProxyHost.StartAsync($$"""
            [auth]
            type = "bearer"
            tokens = ["alice-token-0123456789", "mallory-token-0123456789"]

            {{backend.Backend("s")}}
            """);
        using var alice = new ModernClient(proxy.McpEndpoint, "alice-token-0123456789");
        using var mallory = new ModernClient(proxy.McpEndpoint, "mallory-token-0123456789");

        var (key, _, state) = InputRequired(await alice.CallToolAsync("s/test_input_required_result_request_state", cancellationToken: Ct));
        var (code, message) = Error(await mallory.CallToolAsync("s/test_input_required_result_request_state", Answer(key, Accept("ok", true)), state, cancellationToken: Ct));
        Assert.Equal(-32602, code);
        Assert.Contains("another caller", message, StringComparison.Ordinal);

        var done = await alice.CallToolAsync("s/test_input_required_result_request_state", Answer(key, Accept("ok", true)), state, cancellationToken: Ct);
        Assert.Equal("state-ok", Text(Result(done)));
    }

    [Fact]
    public async Task An_expired_state_is_refused()
    {
        var clock = new ShiftedClock();
        await using var backend = await SampleHttpHost.StartAsync("--conformance");
        await using var proxy = await ProxyHost.StartAsync(
            "[proxy]\nname = \"p\"\n[proxy.listen]\nport = 0\n[proxy.mrtr]\nstate_ttl_seconds = 60\n\n" + backend.Backend("s"),
            configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        using var client = new ModernClient(proxy.McpEndpoint);

        var (key, _, state) = InputRequired(await client.CallToolAsync("s/test_input_required_result_request_state", cancellationToken: Ct));
        clock.Advance(TimeSpan.FromSeconds(61));
        var (code, message) = Error(await client.CallToolAsync("s/test_input_required_result_request_state", Answer(key, Accept("ok", true)), state, cancellationToken: Ct));
        Assert.Equal(-32602, code);
        Assert.Contains("expired", message, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ modern client ↔ legacy backend

    [Fact]
    public async Task Legacy_backend_requests_become_input_required_and_the_retry_completes_the_waiting_request()
    {
        await using var proxy = await ProxyHost.StartAsync(Everything);
        using var client = new ModernClient(proxy.McpEndpoint);
        var registry = proxy.Services.GetRequiredService<BridgeRegistry>();

        // Elicitation: the backend's request is the inputRequest; the answer reaches the backend, whose result is final.
        var (key, request, state) = InputRequired(await client.AnsweringRootsAsync("e/trigger-elicitation-request", await client.CallToolAsync("e/trigger-elicitation-request", cancellationToken: Ct)));
        Assert.Equal("elicitation/create", request["method"]!.GetValue<string>());
        Assert.Contains("Please provide inputs", request["params"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(1, registry.Count);
        var done = Result(await client.AnsweringRootsAsync("e/trigger-elicitation-request", await client.CallToolAsync("e/trigger-elicitation-request", Answer(key, new JsonObject { ["action"] = "decline" }), state, cancellationToken: Ct)));
        Assert.Contains("decline", Text(done), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, registry.Count);

        // The same state again: the exchange was single-use.
        var (code, message) = Error(await client.CallToolAsync("e/trigger-elicitation-request", Answer(key, new JsonObject { ["action"] = "decline" }), state, cancellationToken: Ct));
        Assert.Equal(-32602, code);
        Assert.Contains("no longer available", message, StringComparison.Ordinal);

        // Sampling, the same way.
        var args = new JsonObject { ["prompt"] = "bridge me", ["maxTokens"] = 20 };
        var (sk, sr, ss) = InputRequired(await client.AnsweringRootsAsync("e/trigger-sampling-request", await client.CallToolAsync("e/trigger-sampling-request", arguments: (JsonObject)args.DeepClone(), cancellationToken: Ct), args));
        Assert.Equal("sampling/createMessage", sr["method"]!.GetValue<string>());
        Assert.Contains("bridge me", sr["params"]!.ToJsonString(), StringComparison.Ordinal);
        var sampled = new JsonObject
        {
            ["role"] = "assistant",
            ["model"] = "test-model",
            ["content"] = new JsonObject { ["type"] = "text", ["text"] = "answer through the bridge" },
        };
        var final = Result(await client.AnsweringRootsAsync("e/trigger-sampling-request", await client.CallToolAsync("e/trigger-sampling-request", Answer(sk, sampled), ss, arguments: (JsonObject)args.DeepClone(), cancellationToken: Ct), args));
        Assert.Contains("answer through the bridge", Text(final), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_legacy_backend_request_the_caller_did_not_declare_is_answered_with_missing_capability()
    {
        await using var proxy = await ProxyHost.StartAsync(Everything);
        using var client = new ModernClient(proxy.McpEndpoint);

        var response = await client.CallToolAsync("e/trigger-elicitation-request", capabilities: new JsonObject { ["sampling"] = new JsonObject() }, cancellationToken: Ct);
        var (code, _) = Error(response);
        Assert.Equal(-32021, code);
        Assert.NotNull(response["error"]!["data"]?["requiredCapabilities"]?["elicitation"]);
    }

    [Fact]
    public async Task A_roots_list_the_backend_sends_on_its_own_does_not_fail_a_modern_call_whose_caller_has_no_roots()
    {
        // server-everything asks roots/list on its own (350 ms after initialize, and on every roots/list_changed); the
        // relay hands it to the call in flight. A caller without roots exposes none: the backend hears "no roots" and
        // the call goes on, as it would had the backend asked a moment earlier or later.
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartAsync(Everything, logging: l => l.AddProvider(logs));
        int RootsAnswered() => logs.Entries.Count(e => e.Message.Contains("'roots/list' request handler completed", StringComparison.Ordinal));
        await TestCalls.WaitUntil(() => RootsAnswered() > 0); // the first sync, which sets up its list_changed handler
        var relay = proxy.Services.GetRequiredService<BackendRegistry>().Backends.Single(b => b.Name == "e").ClientRequests;
        using var modern = new ModernClient(proxy.McpEndpoint);

        var answered = RootsAnswered();
        var call = modern.CallToolAsync(
            "e/trigger-long-running-operation", arguments: new JsonObject { ["duration"] = 4, ["steps"] = 2 },
            capabilities: new JsonObject { ["elicitation"] = new JsonObject() }, cancellationToken: Ct);
        await TestCalls.WaitUntil(() => relay.CallingSessions().Any());

        // A client's roots change while the call runs: the backend asks again, and the call in flight is its target.
        await using (var legacy = await proxy.ConnectAsync(cancellationToken: Ct))
        {
#pragma warning disable MCP9005 // roots are deprecated from 2026-07-28; a legacy client still announces their change
            await legacy.SendNotificationAsync(NotificationMethods.RootsListChangedNotification, cancellationToken: Ct);
#pragma warning restore MCP9005
            await TestCalls.WaitUntil(() => RootsAnswered() > answered || call.IsCompleted);
        }

        var answeredInFlight = RootsAnswered() > answered && !call.IsCompleted;
        Assert.Contains("completed", Text(Result(await call)), StringComparison.OrdinalIgnoreCase);
        Assert.True(answeredInFlight, "the backend's roots/list must be answered while the call is in flight for this test to mean anything");
    }

    [Fact]
    public async Task A_parked_exchange_expires_and_its_state_is_then_refused()
    {
        await using var proxy = await ProxyHost.StartAsync("[proxy]\nname = \"p\"\n[proxy.listen]\nport = 0\n[proxy.mrtr]\nstate_ttl_seconds = 1\n\n" + Everything);
        using var client = new ModernClient(proxy.McpEndpoint);
        var registry = proxy.Services.GetRequiredService<BridgeRegistry>();

        var (key, _, state) = InputRequired(await client.AnsweringRootsAsync("e/trigger-elicitation-request", await client.CallToolAsync("e/trigger-elicitation-request", cancellationToken: Ct)));
        await TestCalls.WaitUntil(() => registry.Count == 0); // the expiry answered the backend "cancel" and dropped the exchange
        var (code, _) = Error(await client.CallToolAsync("e/trigger-elicitation-request", Answer(key, new JsonObject { ["action"] = "decline" }), state, cancellationToken: Ct));
        Assert.Equal(-32602, code);
    }

    // ------------------------------------------------------------------ legacy client ↔ modern backend

    [Fact]
    public async Task A_legacy_client_answers_a_modern_backends_input_requests_as_server_requests()
    {
        await using var backend = await SampleHttpHost.StartAsync("--conformance");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("s"));
        var elicited = 0;
        await using var client = await proxy.ConnectAsync(new McpClientOptions
        {
            ProtocolVersion = "2025-11-25",
            Handlers = new McpClientHandlers
            {
                ElicitationHandler = (request, _) =>
                {
                    Interlocked.Increment(ref elicited);
                    var field = request!.RequestedSchema!.Properties.Keys.Single();
                    return ValueTask.FromResult(new ElicitResult
                    {
                        Action = "accept",
                        Content = new Dictionary<string, System.Text.Json.JsonElement> { [field] = System.Text.Json.JsonSerializer.SerializeToElement(field == "ok" ? (object)true : "Ada") },
                    });
                },
            },
        }, Ct);
        Assert.NotNull(client.SessionId);

        var hello = await client.CallToolAsync("s/test_input_required_result_elicitation", cancellationToken: Ct);
        Assert.Equal("Hello, Ada!", TestCalls.Text(hello));
        var rounds = await client.CallToolAsync("s/test_input_required_result_multi_round", cancellationToken: Ct);
        Assert.Equal("multi-round-ok", TestCalls.Text(rounds));
        Assert.Equal(3, elicited);
    }

    // ------------------------------------------------------------------ legacy client ↔ legacy backend: Sessions/ClientRequestRelayTests (unchanged)
}
