using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using McpProxy.Sessions;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static McpProxy.Tests.Eras.ModernHttp;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Eras;

/// <summary>
/// Issue 15 item 1: modern (2026-07-28) clients on /mcp, statelessly, through the real endpoint — raw POSTs with the
/// headers, and the C# SDK client pinned to 2026-07-28 — while legacy clients keep their sessions on the same endpoint.
/// </summary>
public sealed class ModernEraTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task Discover_lists_both_eras_the_aggregate_capabilities_and_public_caching_hints_without_a_session()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("[proxy]\nname = \"era-proxy\"\ninstructions = \"Use the tools.\"\n[proxy.listen]\nport = 0\n\n" + backend.Backend("b"));
        using var http = new HttpClient();

        var discover = await PostAsync(http, proxy.McpEndpoint, "server/discover", null, null, Ct);

        Assert.Equal(HttpStatusCode.OK, discover.Status);
        Assert.False(discover.HasSessionHeader);
        var result = discover.Result;
        Assert.Equal(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"], result["supportedVersions"]!.AsArray().Select(v => (string)v!));
        Assert.NotNull(result["capabilities"]!["tools"]);
        Assert.NotNull(result["capabilities"]!["prompts"]);
        Assert.NotNull(result["capabilities"]!["resources"]);
        Assert.NotNull(result["capabilities"]!["completions"]);
        Assert.Equal("Use the tools.", (string?)result["instructions"]);
        Assert.Equal("era-proxy", (string?)result["_meta"]!["io.modelcontextprotocol/serverInfo"]!["name"]);
        Assert.Equal(300_000, (long)result["ttlMs"]!);
        Assert.Equal("public", (string?)result["cacheScope"]);

        // -32022 lists exactly what discover lists (the conformance scenario server-stateless compares them).
        var refused = await SendAsync(http, Request(proxy.McpEndpoint, "server/discover", version: "2099-01-01"), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal(-32022, refused.ErrorCode);
        var error = refused.Final["error"]!["data"]!;
        Assert.Equal("2099-01-01", (string?)error["requested"]);
        Assert.Equal(
            result["supportedVersions"]!.AsArray().Select(v => (string)v!).Order(),
            error["supported"]!.AsArray().Select(v => (string)v!).Order());
    }

    [Fact]
    public async Task A_modern_client_lists_calls_gets_reads_and_completes_statelessly()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        using var http = new HttpClient();

        var tools = await PostAsync(http, proxy.McpEndpoint, "tools/list", null, null, Ct);
        Assert.Equal(HttpStatusCode.OK, tools.Status);
        Assert.False(tools.HasSessionHeader);
        Assert.Contains(tools.Result["tools"]!.AsArray(), t => (string?)t!["name"] == "b/echo");
        Assert.Equal(60_000, (long)tools.Result["ttlMs"]!);
        Assert.Equal("public", (string?)tools.Result["cacheScope"]);

        var call = await PostAsync(http, proxy.McpEndpoint, "tools/call", new() { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = "modern" } }, "b/echo", Ct);
        Assert.False(call.HasSessionHeader);
        Assert.Equal("modern", (string?)call.Result["content"]![0]!["text"]);

        var prompt = await PostAsync(http, proxy.McpEndpoint, "prompts/get", new() { ["name"] = "b/greet", ["arguments"] = new JsonObject { ["name"] = "Ada" } }, "b/greet", Ct);
        Assert.Equal("Hello, Ada!", (string?)prompt.Result["messages"]![0]!["content"]!["text"]);

        var read = await PostAsync(http, proxy.McpEndpoint, "resources/read", new() { ["uri"] = "b/sample://items/7" }, "b/sample://items/7", Ct);
        Assert.Equal("b/sample://items/7", (string?)read.Result["contents"]![0]!["uri"]);
        Assert.Equal(60_000, (long)(await PostAsync(http, proxy.McpEndpoint, "resources/list", null, null, Ct)).Result["ttlMs"]!);

        var complete = await PostAsync(
            http,
            proxy.McpEndpoint,
            "completion/complete",
            new() { ["ref"] = new JsonObject { ["type"] = "ref/prompt", ["name"] = "b/greet" }, ["argument"] = new JsonObject { ["name"] = "name", ["value"] = "" } },
            null,
            Ct);
        Assert.NotEmpty(complete.Result["completion"]!["values"]!.AsArray());

        // No session was made for any of it.
        Assert.Equal(0, proxy.Services.GetRequiredService<SessionLimiter>().Count);
        Assert.Equal(0, proxy.Services.GetRequiredService<SessionHub>().ActiveSessions);
    }

    [Fact]
    public async Task The_sdk_client_on_2026_07_28_and_a_legacy_client_share_the_endpoint_and_only_the_legacy_one_holds_a_session()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        // One session at most: the legacy client takes it; modern requests must still be served.
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b") + "\n[proxy.sessions]\nmax_sessions = 1\n");
        await using var legacy = await proxy.ConnectAsync(cancellationToken: Ct);
        await using var modern = await proxy.ConnectAsync(new McpClientOptions { ProtocolVersion = "2026-07-28" }, Ct);

        Assert.Equal("2026-07-28", modern.NegotiatedProtocolVersion);
        Assert.Null(modern.SessionId);
        Assert.NotNull(legacy.SessionId);
        Assert.Equal("2025-11-25", legacy.NegotiatedProtocolVersion);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("m" + i, Text(await modern.CallToolAsync("b/echo", Message("m" + i), cancellationToken: Ct)));
            Assert.Equal("l" + i, Text(await legacy.CallToolAsync("b/echo", Message("l" + i), cancellationToken: Ct)));
        }

        Assert.Contains(await modern.ListToolsAsync(cancellationToken: Ct), t => t.Name == "b/echo");
        Assert.Equal("Hello, Bo!", Assert.IsType<TextContentBlock>((await modern.GetPromptAsync("b/greet", new Dictionary<string, object?> { ["name"] = "Bo" }, cancellationToken: Ct)).Messages[0].Content).Text);
        Assert.Equal(1, proxy.Services.GetRequiredService<SessionLimiter>().Count);
        Assert.Equal(1, proxy.Services.GetRequiredService<SessionHub>().ActiveSessions);
    }

    [Fact]
    public async Task Modern_requests_get_the_spec_errors_and_statuses()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        using var http = new HttpClient();

        var unknown = await PostAsync(http, proxy.McpEndpoint, "foo/bar", null, null, Ct);
        Assert.Equal((HttpStatusCode.NotFound, -32601), (unknown.Status, unknown.ErrorCode));

        foreach (var removed in new[] { "initialize", "ping", "logging/setLevel" })
        {
            var reply = await PostAsync(http, proxy.McpEndpoint, removed, null, null, Ct);
            Assert.Equal((HttpStatusCode.NotFound, -32601), (reply.Status, reply.ErrorCode));
            Assert.False(reply.HasSessionHeader);
        }

        var mismatch = await SendAsync(http, Request(proxy.McpEndpoint, "tools/list", headerMethod: "prompts/list"), Ct);
        Assert.Equal((HttpStatusCode.BadRequest, -32020), (mismatch.Status, mismatch.ErrorCode));

        var versionMismatch = await SendAsync(http, Request(proxy.McpEndpoint, "tools/list", new() { ["_meta"] = Meta(version: "2025-11-25") }), Ct);
        Assert.Equal((HttpStatusCode.BadRequest, -32020), (versionMismatch.Status, versionMismatch.ErrorCode));

        // The other way round — a legacy header over a modern _meta — is a mismatch too (the SDK alone answered -32000).
        var legacyHeader = Request(proxy.McpEndpoint, "tools/list");
        legacyHeader.Headers.Remove("MCP-Protocol-Version");
        legacyHeader.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        var legacyOverModern = await SendAsync(http, legacyHeader, Ct);
        Assert.Equal((HttpStatusCode.BadRequest, -32020), (legacyOverModern.Status, legacyOverModern.ErrorCode));

        var missingMeta = Request(proxy.McpEndpoint, "tools/list");
        missingMeta.Content = new StringContent("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":{}}", System.Text.Encoding.UTF8, "application/json");
        var noMeta = await SendAsync(http, missingMeta, Ct);
        Assert.Equal((HttpStatusCode.BadRequest, -32602), (noMeta.Status, noMeta.ErrorCode));

        var wrongName = await PostAsync(http, proxy.McpEndpoint, "tools/call", new() { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = "x" } }, "b/add", Ct);
        Assert.Equal((HttpStatusCode.BadRequest, -32020), (wrongName.Status, wrongName.ErrorCode));

        var unknownTool = await PostAsync(http, proxy.McpEndpoint, "tools/call", new() { ["name"] = "b/nope" }, "b/nope", Ct);
        Assert.Equal(-32602, unknownTool.ErrorCode);

        var unknownResource = await PostAsync(http, proxy.McpEndpoint, "resources/read", new() { ["uri"] = "nowhere://x" }, "nowhere://x", Ct);
        Assert.Equal(-32602, unknownResource.ErrorCode);

        foreach (var verb in new[] { HttpMethod.Get, HttpMethod.Delete })
        {
            using var request = new HttpRequestMessage(verb, proxy.McpEndpoint);
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            request.Headers.Add("MCP-Protocol-Version", ModernHttp.Version);
            using var response = await http.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        }

        // A modern request carrying a session id it made up is served, and no session is echoed or made.
        var withBogusSession = Request(proxy.McpEndpoint, "tools/list");
        withBogusSession.Headers.Add("Mcp-Session-Id", "made-up");
        var served = await SendAsync(http, withBogusSession, Ct);
        Assert.Equal(HttpStatusCode.OK, served.Status);
        Assert.False(served.HasSessionHeader);
    }

    [Fact]
    public async Task A_modern_call_gets_its_progress_on_its_own_stream_and_logs_only_when_its_meta_asks_a_level()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        using var http = new HttpClient();

        var slow = await PostAsync(
            http, proxy.McpEndpoint, "tools/call",
            new() { ["name"] = "b/slow", ["arguments"] = new JsonObject { ["steps"] = 3, ["delay_ms"] = 1 }, ["_meta"] = new JsonObject { ["progressToken"] = "mine" } },
            "b/slow", Ct);
        Assert.Equal("done 3 steps", (string?)slow.Result["content"]![0]!["text"]);
        var progress = slow.Notifications("notifications/progress").ToList();
        Assert.Equal(3, progress.Count);
        Assert.All(progress, p => Assert.Equal("mine", (string?)p["params"]!["progressToken"]));

        JsonObject Notify(JsonObject? meta) => new()
        {
            ["name"] = "b/notify",
            ["arguments"] = new JsonObject { ["log_count"] = 2, ["log_level"] = "warning", ["log_message"] = "hello" },
            ["_meta"] = meta ?? new JsonObject(),
        };

        var silent = await PostAsync(http, proxy.McpEndpoint, "tools/call", Notify(null), "b/notify", Ct);
        Assert.Empty(silent.Notifications("notifications/message"));

        var above = await PostAsync(http, proxy.McpEndpoint, "tools/call", Notify(new() { ["io.modelcontextprotocol/logLevel"] = "info" }), "b/notify", Ct);
        Assert.Equal(2, above.Notifications("notifications/message").Count());

        var below = await PostAsync(http, proxy.McpEndpoint, "tools/call", Notify(new() { ["io.modelcontextprotocol/logLevel"] = "error" }), "b/notify", Ct);
        Assert.Empty(below.Notifications("notifications/message"));
    }

    [Fact]
    public async Task The_era_keys_of_the_callers_meta_stay_on_the_client_hop_and_other_keys_reach_the_backend()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        using var http = new HttpClient();

        var reply = await PostAsync(
            http, proxy.McpEndpoint, "tools/call",
            new() { ["name"] = "b/echo_meta", ["_meta"] = new JsonObject { ["io.modelcontextprotocol/logLevel"] = "debug", ["app/trace"] = "t1" } },
            "b/echo_meta", Ct);

        var seen = JsonNode.Parse((string)reply.Result["content"]![0]!["text"]!)!.AsObject();
        Assert.Equal("t1", (string?)seen["app/trace"]);
        Assert.DoesNotContain(seen, p => p.Key.StartsWith("io.modelcontextprotocol/", StringComparison.Ordinal) && p.Key != "io.modelcontextprotocol/protocolVersion" && p.Key != "io.modelcontextprotocol/clientInfo" && p.Key != "io.modelcontextprotocol/clientCapabilities");
        Assert.NotEqual("modern-test", (string?)seen["io.modelcontextprotocol/clientInfo"]?["name"]);
    }

    [Fact]
    public async Task Closing_a_modern_calls_stream_cancels_the_backend_call()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        using var http = new HttpClient();
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var request = Request(
            proxy.McpEndpoint, "tools/call",
            new() { ["name"] = "b/hold", ["arguments"] = new JsonObject { ["name"] = "never" }, ["_meta"] = new JsonObject { ["progressToken"] = "p" } },
            "b/hold");
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, abort.Token))
        {
            // The first progress event says the backend is holding the call; then the client goes away.
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(abort.Token));
            while (await reader.ReadLineAsync(abort.Token) is { } line && !line.Contains("notifications/progress", StringComparison.Ordinal))
            {
            }

            await abort.CancelAsync();
        }

        await WaitUntil(() => backend.Cancellations == 1);
    }
}
